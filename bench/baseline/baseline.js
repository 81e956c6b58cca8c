// The benchmark's baseline client: the seed's logic and nothing else,
// speaking protocol v1 (docs/protocol.md). The socket and the camera open
// as the page loads; Join sends `join`. One RTCPeerConnection per
// `addPeer`, the offer from the side told `should_create_offer`, a
// `<video>` per remote stream playing its sound, and our own camera in a
// muted `<video>` (as the seed's client.html has them). No UI, no stats,
// no renegotiation.
// Room and name come from the query: /baseline/index.html?room=r&name=n.

const params = new URLSearchParams(location.search);
const room = params.get("room") ?? "baseline";
const name = params.get("name") ?? "baseline";
const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${location.host}/ws`);
const camera = navigator.mediaDevices.getUserMedia({ audio: true, video: true });
const videos = document.getElementById("videos");
camera.then((stream) => {
  const self = document.createElement("video");
  self.autoplay = true;
  self.playsInline = true;
  self.muted = true;
  self.srcObject = stream;
  videos.before(self);
});
/** peer id → { pc, queue } */
const peers = new Map();
let iceServers = [];

function send(event, data) {
  socket.send(JSON.stringify({ event, data }));
}

// One step after another per peer, so a candidate never overtakes the
// description it belongs to.
function enqueue(peer, step) {
  peer.queue = peer.queue.then(step).catch((error) => console.error(error));
}

const handlers = {
  welcome(data) {
    iceServers = data.ice_servers;
    globalThis.__baselineOpen = true;
  },
  joined(data) {
    globalThis.__baselineJoined = true;
    if (data.ice_servers.length > 0) iceServers = data.ice_servers;
  },
  addPeer({ peer_id: id, should_create_offer: offerer }) {
    if (peers.has(id)) return;
    const pc = new RTCPeerConnection({ iceServers });
    const peer = { pc, queue: Promise.resolve() };
    peers.set(id, peer);
    pc.onicecandidate = (event) => {
      if (event.candidate) {
        send("relayICECandidate", { peer_id: id, ice_candidate: event.candidate });
      }
    };
    pc.ontrack = ({ streams: [stream] }) => {
      if (stream === undefined || videos.querySelector(`[data-stream="${stream.id}"]`)) return;
      const video = document.createElement("video");
      video.dataset.stream = stream.id;
      video.dataset.peer = id;
      video.autoplay = true;
      video.playsInline = true;
      video.srcObject = stream;
      videos.append(video);
    };
    enqueue(peer, async () => {
      const stream = await camera;
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
      if (!offerer) return;
      await pc.setLocalDescription(await pc.createOffer());
      send("relaySessionDescription", { peer_id: id, session_description: pc.localDescription });
    });
  },
  sessionDescription({ peer_id: id, session_description: description }) {
    const peer = peers.get(id);
    if (peer === undefined) return;
    enqueue(peer, async () => {
      await peer.pc.setRemoteDescription(description);
      if (description.type !== "offer") return;
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
      send("relaySessionDescription", {
        peer_id: id,
        session_description: peer.pc.localDescription,
      });
    });
  },
  iceCandidate({ peer_id: id, ice_candidate: candidate }) {
    const peer = peers.get(id);
    if (peer !== undefined) enqueue(peer, () => peer.pc.addIceCandidate(candidate));
  },
  removePeer({ peer_id: id }) {
    peers.get(id)?.pc.close();
    peers.delete(id);
    for (const video of videos.querySelectorAll(`[data-peer="${id}"]`)) video.remove();
  },
};

socket.onmessage = (event) => {
  const { event: name, data } = JSON.parse(event.data);
  handlers[name]?.(data);
};

document.getElementById("join").onclick = () => {
  send("join", { channel: room, userdata: { name } });
};
