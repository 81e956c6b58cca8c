/**
 * The static asset table: every file under `static/` read once at start
 * into memory with its content type and ETag. Requests are answered by
 * exact lookup in this table, so no path a client sends can reach any other
 * file — traversal attempts are simply not in the table.
 *
 * @module
 */

import { toHex } from "./_bytes.ts";

/** One servable file. */
export interface Asset {
  body: Uint8Array;
  contentType: string;
  etag: string;
}

/** URL path → asset. */
export type AssetTable = ReadonlyMap<string, Asset>;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

function contentTypeOf(name: string): string | undefined {
  const dot = name.lastIndexOf(".");
  return dot === -1 ? undefined : CONTENT_TYPES[name.slice(dot)];
}

async function etagOf(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
  );
  return `"${toHex(digest.subarray(0, 12))}"`;
}

/** Builds an asset table from in-memory files (path → bytes). */
export async function buildAssetTable(
  files: Iterable<[string, Uint8Array]>,
): Promise<AssetTable> {
  const table = new Map<string, Asset>();
  for (const [path, body] of files) {
    const contentType = contentTypeOf(path);
    if (contentType === undefined) continue;
    table.set(path, { body, contentType, etag: await etagOf(body) });
  }
  return table;
}

/**
 * Reads every file with a known type under `dir` (recursively, skipping
 * dotfiles and links) into an asset table keyed by URL path (`/app.js`).
 */
export async function loadAssetTable(dir: URL): Promise<AssetTable> {
  const files: [string, Uint8Array][] = [];
  async function walk(url: URL, prefix: string) {
    for await (const entry of Deno.readDir(url)) {
      if (entry.name.startsWith(".") || entry.isSymlink) continue;
      if (entry.isDirectory) {
        await walk(new URL(`${entry.name}/`, url), `${prefix}${entry.name}/`);
      } else if (entry.isFile) {
        files.push([
          `${prefix}${entry.name}`,
          await Deno.readFile(new URL(entry.name, url)),
        ]);
      }
    }
  }
  await walk(dir, "/");
  return buildAssetTable(files);
}

/** Answers a GET or HEAD for `asset`, honouring `If-None-Match`. */
export function serveAsset(
  request: Request,
  asset: Asset,
  headers: HeadersInit = {},
): Response {
  const out = new Headers(headers);
  out.set("content-type", asset.contentType);
  out.set("etag", asset.etag);
  // Names are not content-hashed, so revalidate every time (cheap: 304).
  out.set("cache-control", "no-cache");
  out.set("x-content-type-options", "nosniff");
  const match = request.headers.get("if-none-match");
  if (match !== null && match.split(",").some((t) => t.trim() === asset.etag)) {
    return new Response(null, { status: 304, headers: out });
  }
  out.set("content-length", String(asset.body.length));
  return new Response(
    request.method === "HEAD" ? null : asset.body as Uint8Array<ArrayBuffer>,
    {
      headers: out,
    },
  );
}
