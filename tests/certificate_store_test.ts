import assert from "node:assert/strict";
import {
  CERTIFICATE_KEY,
  CERTIFICATE_LIFETIME_MS,
  CertificateStore,
  type GenerateCertificate,
  RENEW_BEFORE_MS,
} from "../client/certificate_store.ts";
import { FakeKeyValueStorage } from "./_fake_storage.ts";

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2030, 0, 1);

/** A certificate stand-in: what the store looks at is `expires`. */
function certificate(id: string, expires: number): RTCCertificate {
  return { id, expires, getFingerprints: () => [] } as unknown as RTCCertificate;
}

/** A generator that records what it was asked and numbers its certificates. */
function generator({ refuseExpires = false, fail = false } = {}) {
  const calls: AlgorithmIdentifier[] = [];
  const generate: GenerateCertificate = (keygen) => {
    calls.push(keygen);
    if (fail || (refuseExpires && "expires" in (keygen as object))) {
      return Promise.reject(new TypeError("cannot"));
    }
    const lifetime = (keygen as { expires?: number }).expires ?? 30 * DAY;
    return Promise.resolve(certificate(`generated-${calls.length}`, NOW + lifetime));
  };
  return { generate, calls };
}

function idOf(loaded: { certificate: RTCCertificate | null }): string | undefined {
  return (loaded.certificate as unknown as { id: string } | null)?.id;
}

Deno.test("CertificateStore generates an ECDSA P-256 certificate once and keeps it", async () => {
  const storage = new FakeKeyValueStorage();
  const { generate, calls } = generator();
  const store = new CertificateStore({ storage, generate, now: () => NOW });
  const first = await store.certificate();
  assert.equal(idOf(first), "generated-1");
  assert.equal(first.persistent, true);
  assert.deepEqual(calls, [{ name: "ECDSA", namedCurve: "P-256", expires: 365 * DAY }]);
  assert.equal(CERTIFICATE_LIFETIME_MS, 365 * DAY);
  assert.equal(storage.values.get(CERTIFICATE_KEY), first.certificate);
  // The same page asks again: the same certificate, nothing generated.
  assert.equal((await store.certificate()).certificate, first.certificate);
  // A reload, a month later: still the stored one.
  const reloaded = new CertificateStore({ storage, generate, now: () => NOW + 30 * DAY });
  assert.deepEqual(await reloaded.certificate(), first);
  assert.equal(calls.length, 1);
});

Deno.test("CertificateStore renews a certificate with a week or less left", async () => {
  assert.equal(RENEW_BEFORE_MS, 7 * DAY);
  for (
    const [left, renewed] of [
      [8 * DAY, false],
      [7 * DAY + 1, false],
      [7 * DAY, true],
      [6 * DAY, true],
      [-DAY, true],
    ] as const
  ) {
    const storage = new FakeKeyValueStorage();
    storage.values.set(CERTIFICATE_KEY, certificate("old", NOW + left));
    const { generate } = generator();
    const loaded = await new CertificateStore({ storage, generate, now: () => NOW }).certificate();
    assert.equal(idOf(loaded), renewed ? "generated-1" : "old", `${left / DAY} days left`);
    assert.equal(loaded.persistent, true);
    assert.equal(
      idOf({ certificate: storage.values.get(CERTIFICATE_KEY) as RTCCertificate }),
      idOf(loaded),
    );
  }
});

Deno.test("CertificateStore replaces a stored value that is not a certificate", async () => {
  for (const corrupt of ["cert", 5, null, {}, { expires: "2031" }, { expires: NaN }]) {
    const storage = new FakeKeyValueStorage();
    storage.values.set(CERTIFICATE_KEY, corrupt);
    const { generate } = generator();
    const loaded = await new CertificateStore({ storage, generate, now: () => NOW }).certificate();
    assert.equal(idOf(loaded), "generated-1", JSON.stringify(corrupt));
    assert.equal(storage.values.get(CERTIFICATE_KEY), loaded.certificate);
  }
});

Deno.test("CertificateStore without storage gives one certificate for the page, not persistent", async () => {
  for (const fail of ["failGets", "failPuts"] as const) {
    const storage = new FakeKeyValueStorage();
    storage[fail] = true;
    const { generate, calls } = generator();
    const store = new CertificateStore({ storage, generate, now: () => NOW });
    const loaded = await store.certificate();
    assert.equal(idOf(loaded), "generated-1", fail);
    assert.equal(loaded.persistent, false, fail);
    assert.equal(
      (await store.certificate()).certificate,
      loaded.certificate,
      "the same all meeting",
    );
    assert.equal(calls.length, 1);
    // The next page (storage still failing) gets another: codes change per meeting.
    const next = await new CertificateStore({ storage, generate, now: () => NOW }).certificate();
    assert.notEqual(next.certificate, loaded.certificate);
  }
});

Deno.test("CertificateStore asks for the browser's default lifetime when a long one is refused", async () => {
  const storage = new FakeKeyValueStorage();
  const { generate, calls } = generator({ refuseExpires: true });
  const loaded = await new CertificateStore({ storage, generate, now: () => NOW }).certificate();
  assert.equal(idOf(loaded), "generated-2");
  assert.deepEqual(calls[1], { name: "ECDSA", namedCurve: "P-256" });
  assert.equal(loaded.persistent, true);
});

Deno.test("CertificateStore leaves the certificate to the browser when none can be made", async () => {
  const storage = new FakeKeyValueStorage();
  const { generate, calls } = generator({ fail: true });
  const loaded = await new CertificateStore({ storage, generate, now: () => NOW }).certificate();
  assert.deepEqual(loaded, { certificate: null, persistent: false });
  assert.equal(calls.length, 2);
  assert.equal(storage.puts, 0);
});

Deno.test("CertificateStore uses the certificate another tab stored at the same time", async () => {
  const storage = new FakeKeyValueStorage();
  const other = certificate("other-tab", NOW + 365 * DAY);
  const put = storage.put.bind(storage);
  // The other tab's write lands right after ours.
  storage.put = async (key, value) => {
    await put(key, value);
    await put(key, other);
  };
  const { generate } = generator();
  const loaded = await new CertificateStore({ storage, generate, now: () => NOW }).certificate();
  assert.equal(loaded.certificate, other);
  assert.equal(loaded.persistent, true);
});
