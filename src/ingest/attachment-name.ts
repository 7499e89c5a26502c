/**
 * Attachment names come from the sender and end up in the agent's UI and in Content-Disposition of
 * downloads. They are never used as paths (design invariant 5), but they must also not pretend to be
 * something else: `invoice\u202Etxt.exe` reads as "invoiceexe.txt", `../../x` names a directory,
 * `CON.txt` cannot be saved on Windows, and `.bashrc` becomes a hidden file.
 */

export const maxFilenameLength = 200;

const extensionByType: Record<string, string> = {
  "application/pdf": "pdf",
  "application/zip": "zip",
  "application/json": "json",
  "application/xml": "xml",
  "application/msword": "doc",
  "application/vnd.ms-excel": "xls",
  "application/vnd.ms-powerpoint": "ppt",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
  "application/vnd.oasis.opendocument.text": "odt",
  "application/ics": "ics",
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/bmp": "bmp",
  "image/tiff": "tif",
  "image/svg+xml": "svg",
  "image/heic": "heic",
  "text/plain": "txt",
  "text/html": "html",
  "text/csv": "csv",
  "text/calendar": "ics",
  "text/rfc822-headers": "txt",
  "message/rfc822": "eml",
  "message/delivery-status": "txt",
  "message/disposition-notification": "txt",
  "audio/mpeg": "mp3",
  "video/mp4": "mp4",
};

/** The usual extension for a content type; `bin` when there is none. */
export function extensionFor(contentType: string): string {
  return extensionByType[contentType.toLowerCase()] ?? "bin";
}

// controls, bidi embeddings/overrides/isolates and marks, zero-width characters, line separators
// eslint-disable-next-line no-control-regex
const invisible = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// eslint-disable-next-line no-control-regex
const invisibleTest = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
// characters Windows refuses in names, and look-alikes of the path separators
const reserved = /[<>:"|?*\u2044\u2215\u29f8\uff0f\uff3c]/g;
const reservedTest = /[<>:"|?*\u2044\u2215\u29f8\uff0f\uff3c]/;
const windowsDevice = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;

function isWindowsDevice(name: string): boolean {
  return windowsDevice.test((name.split(".")[0] ?? "").trim());
}

function boundLength(name: string): string {
  const chars = [...name];
  if (chars.length <= maxFilenameLength) return name;
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 && name.length - dot <= 16 ? [...name.slice(dot)] : [];
  const base = chars.slice(0, maxFilenameLength - extension.length).join("").replace(/[.\s]+$/, "");
  return base + extension.join("");
}

/**
 * A name that is safe to display and to offer for download, keeping readable Unicode text. `index` is
 * the attachment's 1-based position, used with the content type when the part names nothing usable.
 */
export function safeFilename(name: string | null | undefined, index: number, contentType: string): string {
  const cleaned = (name ?? "").normalize("NFC").replace(invisible, "");
  // keep the last path segment that is a name, not "." or ".."
  const segments = cleaned.split(/[\\/]/).filter((segment) => segment.trim() !== "" && !/^[.\s]+$/.test(segment));
  let safe = (segments[segments.length - 1] ?? "")
    .replace(reserved, "_")
    .replace(/\s+/g, " ")
    .replace(/^[.\s]+/, "")
    .replace(/[.\s]+$/, "");
  if (isWindowsDevice(safe)) safe = `_${safe}`;
  safe = boundLength(safe);
  return safe || `attachment-${index}.${extensionFor(contentType)}`;
}

/** The predicate every stored attachment name satisfies (tests hold the pipeline to it). */
export function isSafeFilename(name: string): boolean {
  return (
    name.length > 0 &&
    [...name].length <= maxFilenameLength &&
    !/[\\/]/.test(name) &&
    !invisibleTest.test(name) &&
    !reservedTest.test(name) &&
    !/^[.\s]/.test(name) &&
    !/[.\s]$/.test(name) &&
    !isWindowsDevice(name)
  );
}
