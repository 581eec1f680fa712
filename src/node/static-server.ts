import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { extname, join, normalize, resolve } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
  ".wasm": "application/wasm",
};

/** A text endpoint's answer (e.g. `/metrics`: the Prometheus text format). */
export interface TextReply {
  contentType: string;
  body: string;
}

/**
 * Serves a directory (the built dashboard), a few JSON endpoints and text endpoints, nothing else: paths are
 * confined to `root`.
 */
export async function serveStatic(options: {
  root: string;
  host: string;
  port: number;
  json: Record<string, () => unknown>;
  text?: Record<string, () => Promise<TextReply>>;
}): Promise<{ server: Server; url: string }> {
  const root = resolve(options.root);
  const server = createServer(async (request, response) => {
    try {
      const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
      const endpoint = options.json[path];
      if (endpoint !== undefined) {
        response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        response.end(JSON.stringify(endpoint()));
        return;
      }
      const text = options.text?.[path];
      if (text !== undefined) {
        const { contentType, body } = await text();
        response.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
        response.end(body);
        return;
      }
      let file = normalize(join(root, path));
      if (!file.startsWith(root)) {
        response.writeHead(403).end();
        return;
      }
      let info = await stat(file).catch(() => undefined);
      if (info?.isDirectory()) {
        file = join(file, "index.html");
        info = await stat(file).catch(() => undefined);
      }
      if (info === undefined || !info.isFile()) {
        response.writeHead(404, { "content-type": "text/plain" }).end("not found");
        return;
      }
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": info.size });
      createReadStream(file).pipe(response);
    } catch (error) {
      response.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    }
  });
  await new Promise<void>((ready, fail) => {
    server.once("error", fail);
    server.listen(options.port, options.host, () => ready());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const shownHost = options.host === "0.0.0.0" ? "127.0.0.1" : options.host;
  return { server, url: `http://${shownHost}:${port}/` };
}
