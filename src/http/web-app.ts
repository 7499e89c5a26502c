import fs from "node:fs";
import path from "node:path";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * The web app's own pages may load only what Mailroom serves. Mail bodies are shown in a sandboxed
 * `srcdoc` frame, which inherits this policy and narrows it with its own (web/src/ui/mail-body.tsx):
 * inline styles are allowed for mail's sake, and remote images only because a frame's "show images"
 * asks for them; scripts never run there (the frame is sandboxed without allow-scripts).
 */
export const webAppContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https: http:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

interface WebFile {
  body: Buffer;
  contentType: string;
  /** Vite puts a content hash into every name under assets/: such a file never changes */
  immutable: boolean;
}

/** Every file of the built app, read once: it is a few hundred kilobytes, and never changes while Mailroom runs. */
function readWebFiles(webDir: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const rel = "/" + path.relative(webDir, full).split(path.sep).join("/");
        files.set(rel, {
          body: fs.readFileSync(full),
          contentType: contentTypes[path.extname(entry.name)] ?? "application/octet-stream",
          immutable: rel.startsWith("/assets/"),
        });
      }
    }
  };
  if (fs.existsSync(path.join(webDir, "index.html"))) walk(webDir);
  return files;
}

const notBuiltPage = (webDir: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Mailroom</title></head>
<body><h1>Mailroom</h1><p>The web app has not been built: there is no index.html in <code>${webDir.replace(/[<>&]/g, "")}</code>.
Run <code>npm run build</code> (or <code>npm start</code>, which builds first), then reload this page.
The API answers under <a href="/api/openapi.json">/api</a> meanwhile.</p></body></html>`;

function send(reply: FastifyReply, file: WebFile): FastifyReply {
  reply.header("content-type", file.contentType);
  reply.header("x-content-type-options", "nosniff");
  reply.header("referrer-policy", "no-referrer");
  if (file.contentType.startsWith("text/html")) {
    reply.header("content-security-policy", webAppContentSecurityPolicy);
    reply.header("x-frame-options", "DENY");
    // a new build must reach browsers at once; the hashed assets it names are cached for good
    reply.header("cache-control", "no-cache");
  } else {
    reply.header("cache-control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  }
  return reply.send(file.body);
}

function notFound(reply: FastifyReply, message: string): FastifyReply {
  return reply.status(404).send({ error: { code: "not_found", message } });
}

/**
 * The web app at / from `webDir`: its files by path, and index.html for every other page path, so
 * that a reload or a link to /mailboxes opens the app there. Installed as the not-found handler's
 * page fallback (error-handler.ts), so paths under /api never reach it.
 */
export function webAppPages(webDir: string): (request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  // read at the first page request, not at start: API-only nodes and the many apps the tests build never need it
  let files: Map<string, WebFile> | undefined;
  return (request, reply) => {
    files ??= readWebFiles(webDir);
    const index = files.get("/index.html");
    const raw = request.url.split("?")[0] ?? "/";
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(raw);
    } catch {
      return notFound(reply, "That address is not a page of Mailroom (its %-escapes are broken).");
    }
    const file = files.get(urlPath);
    if (file) return send(reply, file);
    // a missing asset is a 404, not the app: a browser must not run index.html as a script
    if (path.posix.extname(urlPath) !== "") return notFound(reply, `No file ${urlPath} in the web app.`);
    if (!index) return reply.status(503).header("content-type", "text/html; charset=utf-8").send(notBuiltPage(webDir));
    return send(reply, index);
  };
}
