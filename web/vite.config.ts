import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The web app is served by Mailroom itself (src/http/web-app.ts) from dist/web; `npm run dev:web`
// serves it with hot reload and sends /api to a Mailroom on MAILROOM_DEV_API (default :8025).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "../dist/web", emptyOutDir: true, sourcemap: true },
  server: { proxy: { "/api": { target: process.env.MAILROOM_DEV_API ?? "http://127.0.0.1:8025", changeOrigin: false } } },
});
