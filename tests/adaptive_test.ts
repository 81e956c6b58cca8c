import assert from "node:assert/strict";
import { applyEncoding, videoEncodingFor } from "../client/adaptive.ts";
import { FakeSender } from "./_fake_rtc.ts";

Deno.test("videoEncodingFor shrinks each copy as the mesh grows, keeping total upload bounded", () => {
  let previous = Infinity;
  for (let others = 1; others <= 7; others++) {
    const e = videoEncodingFor(others, "camera");
    assert.ok(e.maxBitrate <= previous, `non-increasing at ${others}`);
    previous = e.maxBitrate;
    assert.ok(e.maxBitrate * others <= 2_000_000, `total upload at ${others} peers`);
  }
  assert.equal(videoEncodingFor(1, "camera").scaleResolutionDownBy, 1);
  assert.equal(videoEncodingFor(5, "camera").scaleResolutionDownBy, 2);
  const screen = videoEncodingFor(5, "screen");
  assert.equal(screen.scaleResolutionDownBy, 1, "screens keep their resolution");
  assert.ok(screen.maxFramerate <= 15);
});

Deno.test("applyEncoding sets the first encoding and skips no-op updates", async () => {
  const sender = new FakeSender(null, "video", "s");
  sender.parameters = { encodings: [{ rid: "keep" }] };
  const encoding = videoEncodingFor(3, "camera");
  assert.equal(await applyEncoding(sender as unknown as RTCRtpSender, encoding), true);
  assert.deepEqual(sender.parameters.encodings[0], { rid: "keep", ...encoding });
  assert.equal(await applyEncoding(sender as unknown as RTCRtpSender, encoding), false);
  assert.equal(sender.setParametersCalls, 1);
  sender.parameters = { encodings: [] };
  assert.equal(await applyEncoding(sender as unknown as RTCRtpSender, encoding), null);
});
