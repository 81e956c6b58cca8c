/**
 * Makes sure the tests have the real components they drive: Chromium
 * (CHROMIUM_PATH or /usr/bin/chromium), Firefox ESR (FIREFOX_PATH or
 * /usr/bin/firefox-esr) and coturn (TURNSERVER_PATH or /usr/bin/turnserver)
 * for the end-to-end tests, and Redis (REDIS_SERVER_PATH or
 * /usr/bin/redis-server) for the cluster tests, which run with the unit
 * and integration tests. On a Debian-like machine where we are root it
 * installs Debian's packages for the missing ones (so `deno task test` sets
 * up a fresh machine by itself). Elsewhere it says how to install them and
 * exits non-zero.
 *
 * @module
 */

const TOOLS = [
  {
    name: "Chromium",
    path: Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium",
    debianPath: "/usr/bin/chromium",
    pkg: "chromium",
    variable: "CHROMIUM_PATH",
  },
  {
    name: "Firefox ESR",
    path: Deno.env.get("FIREFOX_PATH") ?? "/usr/bin/firefox-esr",
    debianPath: "/usr/bin/firefox-esr",
    pkg: "firefox-esr",
    variable: "FIREFOX_PATH",
  },
  {
    name: "coturn",
    path: Deno.env.get("TURNSERVER_PATH") ?? "/usr/bin/turnserver",
    debianPath: "/usr/bin/turnserver",
    pkg: "coturn",
    variable: "TURNSERVER_PATH",
  },
  {
    name: "Redis",
    path: Deno.env.get("REDIS_SERVER_PATH") ?? "/usr/bin/redis-server",
    debianPath: "/usr/bin/redis-server",
    pkg: "redis-server",
    variable: "REDIS_SERVER_PATH",
  },
];

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

const missing = [];
for (const tool of TOOLS) {
  if (!(await exists(tool.path))) missing.push(tool);
}
if (missing.length > 0) {
  const root = Deno.uid() === 0;
  const apt = await exists("/usr/bin/apt-get");
  const installable = missing.every((tool) => tool.path === tool.debianPath);
  if (root && apt && installable) {
    const packages = missing.map((tool) => tool.pkg);
    console.log(`Installing Debian's ${packages.join(", ")} for the tests`);
    const ok = await run("apt-get", ["update", "-q"]) &&
      await run("apt-get", ["install", "-y", "-q", ...packages]);
    for (const tool of missing) {
      if (!ok || !(await exists(tool.path))) {
        console.error(`error: could not install ${tool.pkg} with apt-get`);
        Deno.exit(1);
      }
    }
  } else {
    for (const tool of missing) {
      console.error(
        `error: the tests need ${tool.name} at ${tool.path}. Install it ` +
          `(Debian/Ubuntu: sudo apt-get install ${tool.pkg}) or set ${tool.variable}.`,
      );
    }
    Deno.exit(1);
  }
}
