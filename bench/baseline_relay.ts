/**
 * The floor: the least a Deno WebSocket relay can do per message — parse
 * the JSON, look up the target socket, forward with the sender stamped —
 * and per join: introduce the joiner and each member of its channel to
 * each other with `addPeer`. No validation, no limits, no `joined`, no
 * `removePeer`. The benchmark reports the real server as ratios to this.
 *
 * Run: `PORT=9000 deno run --allow-net --allow-env bench/baseline_relay.ts`
 *
 * @module
 */

const sockets = new Map<string, WebSocket>();
const rooms = new Map<string, Set<string>>();

function addPeer(socket: WebSocket, peerId: string, shouldCreateOffer: boolean) {
  socket.send(
    JSON.stringify({
      event: "addPeer",
      data: { peer_id: peerId, should_create_offer: shouldCreateOffer },
    }),
  );
}

function join(id: string, channel: string, channels: string[]) {
  let members = rooms.get(channel);
  if (members === undefined) rooms.set(channel, members = new Set());
  if (members.has(id)) return;
  const joiner = sockets.get(id)!;
  for (const member of members) {
    const socket = sockets.get(member);
    if (socket === undefined) continue;
    addPeer(socket, id, false);
    addPeer(joiner, member, true);
  }
  members.add(id);
  channels.push(channel);
}

function leave(id: string, channels: string[]) {
  for (const channel of channels) {
    const members = rooms.get(channel);
    members?.delete(id);
    if (members?.size === 0) rooms.delete(channel);
  }
}

/** Serves one request: a WebSocket upgrade, or 426. */
export function handle(request: Request): Response {
  if (request.headers.get("upgrade") !== "websocket") return new Response(null, { status: 426 });
  const { socket, response } = Deno.upgradeWebSocket(request);
  const id = crypto.randomUUID();
  const channels: string[] = [];
  socket.onopen = () => {
    sockets.set(id, socket);
    socket.send(JSON.stringify({ event: "welcome", data: { peer_id: id } }));
  };
  socket.onmessage = (event) => {
    try {
      const { event: name, data } = JSON.parse(event.data);
      if (name === "join") return join(id, String(data.channel), channels);
      const target = sockets.get(data.peer_id);
      if (target === undefined) return;
      const out = name === "relayICECandidate"
        ? { event: "iceCandidate", data: { peer_id: id, ice_candidate: data.ice_candidate } }
        : {
          event: "sessionDescription",
          data: { peer_id: id, session_description: data.session_description },
        };
      target.send(JSON.stringify(out));
    } catch {
      // The floor does no error handling beyond not crashing.
    }
  };
  socket.onclose = () => {
    sockets.delete(id);
    leave(id, channels);
  };
  return response;
}

if (import.meta.main) {
  Deno.serve({
    port: Number(Deno.env.get("PORT") ?? 9000),
    hostname: "127.0.0.1",
    onListen: ({ port }) => console.log(`Open http://127.0.0.1:${port}/`),
  }, handle);
}
