/// <reference lib="deno.unstable" />
import assert from "node:assert/strict";
import { Signal } from "@preact/signals-core";
import { CallModel, cleanName, MAX_ANNOUNCEMENTS, MAX_CHAT_MESSAGES } from "../client/store.ts";

Deno.test("cleanName trims, caps and strips control and bidi characters", () => {
  assert.equal(cleanName("  Ann  "), "Ann");
  assert.equal(
    cleanName("Al\u200bi\u200dc\u200fe\ufeff\u061c\u2060"),
    "Alice",
    "invisible characters",
  );
  assert.equal(cleanName("a\u202eb\u0000c"), "abc");
  assert.equal(cleanName("x".repeat(100)).length, 40);
  assert.equal(cleanName(""), "Guest");
  assert.equal(cleanName(42), "Guest");
  assert.equal(
    cleanName("<b>hi</b>"),
    "<b>hi</b>",
    "kept as text; rendering escapes it",
  );
});

Deno.test("CallModel starts in the lobby without a room and in pre-join with one", () => {
  assert.equal(new CallModel({ room: null, name: "" }).phase.value, "lobby");
  const store = new CallModel({ room: "r", name: "Ann" });
  assert.equal(store.phase.value, "prejoin");
  assert.equal(store.name.value, "Ann");
});

Deno.test("CallModel keeps participants immutable per change and forgets them on leaving", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  store.setPhase("in-call");
  store.addParticipant("p1", "Bob");
  const first = store.participants.value;
  store.patchParticipant("p1", { micOn: false });
  assert.notEqual(store.participants.value, first, "a new Map so signals fire");
  assert.equal(store.participants.value.get("p1")?.micOn, false);
  store.patchParticipant("nobody", { micOn: false });
  store.addParticipant("p1", "Impostor");
  assert.equal(store.participants.value.get("p1")?.name, "Bob");
  store.addChat({ from: "p1", name: "Bob", text: "hi", at: 0 });
  store.setPhase("prejoin");
  assert.equal(store.participants.value.size, 0);
  assert.deepEqual(store.chat.value, []);
});

Deno.test("CallModel keeps the last 200 chat lines and counts unread ones while hidden", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  for (let i = 0; i < MAX_CHAT_MESSAGES + 5; i++) {
    store.addChat({ from: "p1", name: "Bob", text: `m${i}`, at: i }, {
      panelOpen: false,
    });
  }
  assert.equal(store.chat.value.length, MAX_CHAT_MESSAGES);
  assert.equal(store.chat.value[0].text, "m5");
  assert.equal(store.unread.value, MAX_CHAT_MESSAGES + 5);
  store.addChat({ from: null, name: "Ann", text: "mine", at: 0 }, {
    panelOpen: false,
  });
  assert.equal(
    store.unread.value,
    MAX_CHAT_MESSAGES + 5,
    "own lines are never unread",
  );
  store.markChatRead();
  assert.equal(store.unread.value, 0);
});

Deno.test("CallModel announces joins, leaves, others' messages and new hands, keeping the last few", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  const said = () => store.announcements.value.map((a) => a.text);
  store.addParticipant("p1", "Bob", { announce: true });
  store.addParticipant("p2", "Cid");
  store.addParticipant("p1", "Bob", { announce: true }); // already here
  assert.deepEqual(said(), ["Bob joined"]);
  store.patchParticipant("p1", { handRaised: true });
  store.patchParticipant("p1", { handRaised: true, micOn: false });
  store.patchParticipant("p1", { diagnosis: null });
  assert.deepEqual(said(), ["Bob joined", "Bob raised a hand"], "a hand once, nothing else");
  store.addChat({ from: null, name: "Ann", text: "mine", at: 0 });
  store.addChat({ from: "p2", name: "Cid", text: "hello", at: 0 });
  store.removeParticipant("p2");
  store.removeParticipant("p1", { announce: false });
  assert.deepEqual(said().slice(2), ["Message from Cid: hello", "Cid left"]);
  for (let i = 0; i < 10; i++) store.addChat({ from: "p9", name: "Dee", text: `${i}`, at: 0 });
  assert.equal(said().length, MAX_ANNOUNCEMENTS);
  assert.equal(said().at(-1), "Message from Dee: 9");
  const ids = store.announcements.value.map((a) => a.id);
  assert.equal(new Set(ids).size, ids.length, "each announcement has its own key");
  store.setPhase("prejoin");
  assert.deepEqual(said(), [], "leaving the call forgets them");
});

Deno.test("CallModel keeps the chat's open state and the open popover as signals", () => {
  const store = new CallModel({ room: "r", name: "Ann", chatOpen: true });
  assert.equal(
    new CallModel({ room: "r", name: "Ann" }).chatOpen.value,
    false,
    "closed by default",
  );
  store.addChat({ from: "p1", name: "Bob", text: "hi", at: 0 }, { panelOpen: false });
  assert.equal(store.unread.value, 1);
  store.toggleChat();
  assert.equal(store.chatOpen.value, false);
  assert.equal(store.unread.value, 0, "toggling the chat marks it read");
  store.setPhase("in-call");
  store.togglePanel("people");
  assert.equal(store.openPanel.value, "people");
  store.togglePanel("help");
  assert.equal(store.openPanel.value, "help", "one popover at a time");
  store.togglePanel("help");
  assert.equal(store.openPanel.value, null, "the same button closes it");
  store.togglePanel("settings");
  store.closePanel();
  assert.equal(store.openPanel.value, null);
  store.togglePanel("people");
  store.setPhase("prejoin");
  assert.equal(store.openPanel.value, null, "popovers close with the call");
  assert.equal(store.chatOpen.value, false, "the chat keeps its place across calls");
  store.toggleChat();
  store.setPhase("joining");
  assert.equal(store.chatOpen.value, true);
});

Deno.test("CallModel offers to lock the room behind someone removed only while it is unlocked", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  store.offerLock("Bob");
  assert.equal(store.lockOffer.value, null, "no offer from a server without room authority");
  store.setAuthority({ hosts: ["me"], locked: true, password: false });
  store.offerLock("Bob");
  assert.equal(store.lockOffer.value, null, "already locked");
  store.setAuthority({ hosts: ["me"], locked: false, password: false });
  store.offerLock("Bob");
  assert.equal(store.lockOffer.value, "Bob");
  store.dismissLockOffer();
  assert.equal(store.lockOffer.value, null);
});

Deno.test("CallModel falls back to the default for a chosen device that was unplugged", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  const cam = { id: "cam", label: "Camera" };
  const mic = { id: "mic", label: "Mic" };
  const speaker = { id: "spk", label: "Speaker" };
  const all = { audioinput: [mic], videoinput: [cam], audiooutput: [speaker] };
  assert.equal(store.listDevices(all), null);
  store.chooseDevice("audioinput", "mic");
  store.chooseDevice("videoinput", "cam");
  store.chooseDevice("audiooutput", "spk");
  assert.equal(store.listDevices(all), null, "everything chosen is still there");
  assert.deepEqual(store.selectedDevices.value, {
    audioinput: "mic",
    videoinput: "cam",
    audiooutput: "spk",
  });
  const lost = store.listDevices({ audioinput: [], videoinput: [cam], audiooutput: [] });
  assert.equal(lost, "audioinput", "the microphone must be swapped; a speaker is not");
  assert.deepEqual(store.selectedDevices.value, {
    audioinput: "",
    videoinput: "cam",
    audiooutput: "",
  });
  assert.deepEqual(store.devices.value.videoinput, [cam]);
});

Deno.test("CallModel starts joining as a name, forgetting the last failure, and goes back to the lobby", () => {
  const store = new CallModel({ room: "r", name: "", password: "pw" });
  assert.equal(store.password.value, "pw", "from the invite link");
  store.fail("full");
  store.setLinkStatus("reconnecting");
  store.startJoining("Ann");
  assert.equal(store.name.value, "Ann");
  assert.equal(store.error.value, null);
  assert.equal(store.phase.value, "joining");
  assert.equal(store.linkStatus.value, "connecting");
  store.backToLobby();
  assert.equal(store.room.value, null);
  assert.equal(store.phase.value, "lobby");
});

/**
 * Every signal a {@linkcode CallModel} exposes, computed ones included:
 * read from a real instance, so a signal added later is covered at once.
 */
const STORE_SIGNALS: ReadonlySet<string> = new Set(
  Object.entries(new CallModel({ room: null, name: "" }))
    .filter(([, value]) => value instanceof Signal)
    .map(([key]) => key),
);

/** The one module allowed to write the store's signals. */
const OWNER = "client/store.ts";

/** Type wrappers that leave the expression they wrap the same place to write. */
const WRAPPERS = new Set([
  "TSAsExpression",
  "TSNonNullExpression",
  "TSSatisfiesExpression",
  "TSTypeAssertion",
  "ChainExpression",
  "ParenthesizedExpression",
]);

function unwrap(node: Deno.lint.Node): Deno.lint.Node {
  let inner = node;
  while (WRAPPERS.has(inner.type)) inner = (inner as { expression: Deno.lint.Node }).expression;
  return inner;
}

/** The name an expression is known by: `micOn` in `micOn`, `store.micOn`, `this.#store.micOn`. */
function nameOf(node: Deno.lint.Node): string | null {
  if (node.type === "Identifier") return node.name;
  if (node.type !== "MemberExpression") return null;
  const key = node.property;
  if (!node.computed && (key.type === "Identifier" || key.type === "PrivateIdentifier")) {
    return key.name;
  }
  return key.type === "Literal" && typeof key.value === "string" ? key.value : null;
}

/**
 * The store signal whose `.value` `target` writes — `store.micOn.value`,
 * `(store.micOn as Signal<boolean>).value`, `micOn.value` after a
 * destructuring, or `store.selectedDevices.value.audioinput` (a change
 * inside the value) — or `null`.
 */
function writtenSignal(target: Deno.lint.Node): string | null {
  let node = unwrap(target);
  while (node.type === "MemberExpression") {
    const object = unwrap(node.object);
    const signal = nameOf(object);
    if (nameOf(node) === "value" && signal !== null && STORE_SIGNALS.has(signal)) return signal;
    node = object;
  }
  return null;
}

/** Every place a write can stand: assignments (destructuring too), `++`/`--`, `delete`. */
function targetsOf(node: Deno.lint.Node): Deno.lint.Node[] {
  switch (node.type) {
    case "ArrayPattern":
      return node.elements.flatMap((element) => element === null ? [] : targetsOf(element));
    case "ObjectPattern":
      return node.properties.flatMap((p) => targetsOf(p.type === "Property" ? p.value! : p));
    case "AssignmentPattern":
      return targetsOf(node.left);
    case "RestElement":
      return targetsOf(node.argument);
    default:
      return [node];
  }
}

/** A lint rule: a store signal written anywhere but in its owner. */
const storeWrites: Deno.lint.Plugin = {
  name: "store",
  rules: {
    "signals-written-by-owner": {
      create(context) {
        const check = (node: Deno.lint.Node, target: Deno.lint.Node) => {
          for (const written of targetsOf(target)) {
            const signal = writtenSignal(written);
            if (signal !== null) context.report({ node, message: `writes ${signal}` });
          }
        };
        return {
          AssignmentExpression: (node) => check(node, node.left),
          UpdateExpression: (node) => check(node, node.argument),
          UnaryExpression: (node) => {
            if (node.operator === "delete") check(node, node.argument);
          },
          "ForInStatement, ForOfStatement": (node: Deno.lint.ForInStatement) =>
            check(node, node.left),
        };
      },
    },
  },
};

/** `file:line writes signal` for each write `source` makes to a store signal. */
function storeWritesIn(file: string, source: string): string[] {
  return Deno.lint.runPlugin(storeWrites, file, source).map((d) => {
    const line = source.slice(0, d.range[0]).split("\n").length;
    return `${file}:${line} ${d.message}`;
  });
}

Deno.test("The store-writes check sees every form of writing a store signal, and nothing else", () => {
  const writes = [
    `store.micOn.value = false;`,
    `this.#store.notice.value ??= "x";`,
    `this.store.unread.value++;`,
    `--call.store.unread.value;`,
    `(store.phase as Signal<Phase>).value = "lobby";`,
    `store!.gate\n  .value = null;`,
    `const { error } = store; error.value = "x";`,
    `[store.error.value, { a: store.room.value }] = ["x", { a: null }];`,
    `store.selectedDevices.value.audioinput = "";`,
    `store["canShareScreen"].value = true;`,
    `delete store.devices.value.audiooutput;`,
  ];
  const found = storeWritesIn("fool.tsx", writes.join("\n"));
  assert.deepEqual(found, [
    "fool.tsx:1 writes micOn",
    "fool.tsx:2 writes notice",
    "fool.tsx:3 writes unread",
    "fool.tsx:4 writes unread",
    "fool.tsx:5 writes phase",
    "fool.tsx:6 writes gate",
    "fool.tsx:8 writes error",
    "fool.tsx:9 writes error",
    "fool.tsx:9 writes room",
    "fool.tsx:10 writes selectedDevices",
    "fool.tsx:11 writes canShareScreen",
    "fool.tsx:12 writes devices",
  ]);
  const reads = [
    `if (store.micOn.value === false) store.toggleChat();`,
    `const text = "store.micOn.value = false"; // store.micOn.value = false`,
    `input.value = store.password.value;`,
    `const onInput = (e) => store.setPassword(e.currentTarget.value);`,
    `const lists = { ...store.devices.value };`,
    `lists.audioinput = [];`,
    `<input value={store.password.value} onInput={(e) => (draft.value = e.currentTarget.value)} />;`,
  ];
  assert.deepEqual(storeWritesIn("innocent.tsx", reads.join("\n")), []);
});

Deno.test("Only store.ts writes the store's signals; everyone else calls its actions", async () => {
  assert.ok(STORE_SIGNALS.has("micOn") && STORE_SIGNALS.has("isHost"), "the signals are found");
  const found: string[] = [];
  const root = new URL("../", import.meta.url);
  for await (const file of clientSources(new URL("client/", root))) {
    const path = file.href.slice(root.href.length);
    if (path !== OWNER) found.push(...storeWritesIn(path, await Deno.readTextFile(file)));
  }
  assert.deepEqual(found, [], "writes to store signals outside store.ts");
});

async function* clientSources(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) yield* clientSources(new URL(`${entry.name}/`, dir));
    else if (/\.tsx?$/.test(entry.name)) yield new URL(entry.name, dir);
  }
}

Deno.test("CallModel opens the security code dialog for someone present, and closes it when they leave", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  store.setPhase("in-call");
  store.openSecurityCode("p1");
  assert.equal(store.securityDialog.value, null, "nobody by that id");
  store.addParticipant("p1", "Bob");
  assert.deepEqual(store.participants.value.get("p1")!.security, {
    state: "pending",
    code: null,
    verified: "unverified",
    canVerify: false,
    details: null,
  });
  store.openSecurityCode("p1");
  assert.equal(store.securityDialog.value, "p1");
  store.closeSecurityCode();
  assert.equal(store.securityDialog.value, null);
  store.openSecurityCode("p1");
  store.removeParticipant("p1");
  assert.equal(store.securityDialog.value, null, "gone with the person");
  store.addParticipant("p2", "Cid");
  store.openSecurityCode("p2");
  store.setPhase("prejoin");
  assert.equal(store.securityDialog.value, null, "gone with the call");
  assert.equal(store.certificatePersistent.value, null);
  store.setCertificatePersistent(false);
  assert.equal(store.certificatePersistent.value, false);
});
