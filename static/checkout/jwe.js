// Compact JWE with WebCrypto: ECDH-ES (P-256, Concat KDF) + A256GCM, to the vault's public key.
// The card never leaves the page in any other form. Works in browsers and in Node ≥ 20.

const encoder = new TextEncoder();

export function b64url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function lengthPrefixed(bytes) {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

// RFC 7518 §4.6.2: one SHA-256 round gives the 256-bit key; OtherInfo is AlgorithmID ("A256GCM"),
// PartyUInfo, PartyVInfo (length-prefixed) and the key length in bits.
async function concatKdf(subtle, z, apu, apv) {
  const parts = [
    new Uint8Array([0, 0, 0, 1]), z,
    lengthPrefixed(encoder.encode("A256GCM")), lengthPrefixed(apu), lengthPrefixed(apv),
    new Uint8Array([0, 0, 1, 0]),
  ];
  const input = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    input.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await subtle.digest("SHA-256", input));
}

/**
 * Encrypt ``payload`` (an object with ``sid`` and ``nonce``) to ``jwk`` (the vault's P-256
 * public JWK with its kid). Header exactly {alg, enc, kid, epk, apu, apv}: the session id and
 * page nonce go into the key derivation, so the JWE opens for this checkout only.
 */
export async function encryptCard(jwk, payload, subtle = globalThis.crypto.subtle) {
  const curve = { name: "ECDH", namedCurve: "P-256" };
  const vaultKey = await subtle.importKey(
    "jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true }, curve, false, [],
  );
  const ephemeral = await subtle.generateKey(curve, false, ["deriveBits"]);
  const z = new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: vaultKey }, ephemeral.privateKey, 256));
  const { x, y } = await subtle.exportKey("jwk", ephemeral.publicKey);
  const apu = encoder.encode(payload.sid);
  const apv = encoder.encode(payload.nonce);
  const cek = await concatKdf(subtle, z, apu, apv);
  z.fill(0);
  const header = b64url(encoder.encode(JSON.stringify({
    alg: "ECDH-ES", enc: "A256GCM", kid: jwk.kid, epk: { kty: "EC", crv: "P-256", x, y },
    apu: b64url(apu), apv: b64url(apv),
  })));
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  try {
    const aesKey = await subtle.importKey("raw", cek, { name: "AES-GCM" }, false, ["encrypt"]);
    const sealed = new Uint8Array(
      await subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: encoder.encode(header), tagLength: 128 },
        aesKey,
        encoder.encode(JSON.stringify(payload)),
      ),
    );
    const ciphertext = sealed.slice(0, sealed.length - 16);
    const tag = sealed.slice(sealed.length - 16);
    return [header, "", b64url(iv), b64url(ciphertext), b64url(tag)].join(".");
  } finally {
    cek.fill(0);
  }
}
