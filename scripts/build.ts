/**
 * Bundles the browser client (`client/main.tsx`) into `static/app.js` with
 * esbuild — minified, with a source map — and reports the gzipped size.
 * `--watch` rebuilds on change.
 *
 * @module
 */

import * as esbuild from "esbuild";

const root = new URL("../", import.meta.url);
const watch = Deno.args.includes("--watch");

const options: esbuild.BuildOptions = {
  absWorkingDir: root.pathname,
  entryPoints: ["client/main.tsx"],
  outfile: "static/app.js",
  bundle: true,
  minify: true,
  sourcemap: "linked",
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
};

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

async function report() {
  const bytes = await Deno.readFile(new URL("static/app.js", root));
  const gz = await gzipSize(bytes);
  console.log(
    `built static/app.js: ${(bytes.length / 1024).toFixed(1)} KiB, ${
      (gz / 1024).toFixed(1)
    } KiB gzipped`,
  );
}

if (watch) {
  const context = await esbuild.context({
    ...options,
    plugins: [{
      name: "report",
      setup(build) {
        build.onEnd(async (result) => {
          if (result.errors.length === 0) await report();
        });
      },
    }],
  });
  await context.watch();
  console.log("watching client/ for changes");
} else {
  try {
    await esbuild.build(options);
    await report();
  } finally {
    await esbuild.stop();
  }
}
