/**
 * The floor: the least a Deno WebSocket relay can do per message — parse
 * the JSON, look up the target socket, forward with the sender stamped.
 * No rooms, no validation, no limits. The benchmark reports the real
 * server as ratios to this.
 *
 * Run: `PORT=9000 deno run --allow-net --allow-env bench/baseline_relay.ts`
 *
 * @module
 */

const sockets = new Map<string, WebSocket>();

function handle(request: Request): Response {
  if (request.headers.get("upgrade") !== "websocket") return new Response(null, { status: 426 });
  const { socket, response } = Deno.upgradeWebSocket(request);
  const id = crypto.randomUUID();
  socket.onopen = () => {
    sockets.set(id, socket);
    socket.send(JSON.stringify({ event: "welcome", data: { peer_id: id } }));
  };
  socket.onmessage = (event) => {
    try {
      const { event: name, data } = JSON.parse(event.data);
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
  socket.onclose = () => sockets.delete(id);
  return response;
}

Deno.serve({
  port: Number(Deno.env.get("PORT") ?? 9000),
  hostname: "127.0.0.1",
  onListen: ({ port }) => console.log(`Open http://127.0.0.1:${port}/`),
}, handle);
