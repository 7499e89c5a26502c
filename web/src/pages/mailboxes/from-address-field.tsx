import { get } from "../../api/client";
import type { List } from "../../api/types";
import { useResource } from "../../use-resource";
import { SelectField } from "../../ui/fields";
import type { Folder, FolderValue } from "./mailboxes.types";

/** The value of the drop-down's last item (no address looks like it): it opens Manage Email Addresses instead of being chosen. */
const addItem = "__add__";

function valueLabel(v: FolderValue): string {
  return v.displayName ? `${v.displayName} <${v.name}>` : v.name;
}

/**
 * The outbound form's From Address: a drop-down of the addresses in the mailbox's business-attribute
 * folder that ends with Add…, which opens Manage Email Addresses (as the button under it does).
 */
export function FromAddressField({
  value,
  folderId,
  version,
  error,
  folderError,
  onChange,
  onManage,
}: {
  value: string;
  folderId: string | null;
  /** changes when the folder's addresses may have changed, so they are read again */
  version: number;
  error: string | undefined;
  folderError: string | undefined;
  onChange: (address: string) => void;
  onManage: () => void;
}) {
  const values = useResource(`from-values:${folderId ?? ""}:${version}`, () =>
    folderId
      ? get<List<FolderValue>>(`/api/v1/business-attributes/${encodeURIComponent(folderId)}/values`).then((r) => r.items)
      : Promise.resolve([]),
  );
  const folders = useResource(`from-folders:${version}`, () => get<List<Folder>>("/api/v1/business-attributes").then((r) => r.items));
  const folder = folderId ? folders.data?.find((f) => f.id === folderId) : undefined;
  const items = values.data ?? [];
  const listed = items.some((v) => v.name.toLowerCase() === value.toLowerCase());

  const choices = [
    ...(value === "" ? [{ value: "", label: items.length > 0 ? "Choose a From address" : "No addresses yet: choose Add…" }] : []),
    ...(value !== "" && !listed ? [{ value, label: folderId ? `${value} (not in the folder)` : value }] : []),
    ...items.map((v) => ({ value: v.name, label: valueLabel(v) })),
    { value: addItem, label: "Add…" },
  ];

  return (
    <div className="mbx-from-address-field">
      <SelectField
        label="From Address"
        required
        value={value}
        choices={choices}
        error={error ?? folderError}
        onChange={(v) => (v === addItem ? onManage() : onChange(v))}
        hint={
          <>
            {folderId
              ? `Agents may also send from every address in the folder “${folder?.name ?? "…"}”.`
              : "The address replies are sent from. Add… sets up the business-attribute folder of addresses agents may send from."}{" "}
            <button type="button" className="link" onClick={onManage}>
              Manage email addresses…
            </button>
          </>
        }
      />
      {values.error ? <p className="field-error">{values.error.message}</p> : null}
    </div>
  );
}
