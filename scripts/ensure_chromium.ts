/**
 * Makes sure the browser tests have a Chromium: uses CHROMIUM_PATH or
 * /usr/bin/chromium, and on a Debian-like machine where we are root
 * installs Debian's `chromium` package when it is missing (so
 * `deno task test` sets up a fresh machine by itself). Elsewhere it says
 * how to install one and exits non-zero.
 *
 * @module
 */

const path = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

async function exists(file: string): Promise<boolean> {
  try {
    return (await Deno.stat(file)).isFile;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(cmd, {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return success;
  } catch {
    return false;
  }
}

if (!(await exists(path))) {
  const root = Deno.uid() === 0;
  const apt = await exists("/usr/bin/apt-get");
  if (root && apt && path === "/usr/bin/chromium") {
    console.log("Chromium is missing: installing Debian's chromium package for the browser tests");
    const ok = await run("apt-get", ["update", "-q"]) &&
      await run("apt-get", ["install", "-y", "-q", "chromium"]);
    if (!ok || !(await exists(path))) {
      console.error("error: could not install chromium with apt-get");
      Deno.exit(1);
    }
  } else {
    console.error(
      `error: the browser tests need Chromium at ${path}. Install it (Debian/Ubuntu: ` +
        "sudo apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary.",
    );
    Deno.exit(1);
  }
}
