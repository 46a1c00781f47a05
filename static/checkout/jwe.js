// Compact JWE with WebCrypto: RSA-OAEP-256 key wrap + A256GCM, to the vault's public key.
// The card never leaves the page in any other form. Works in browsers and in Node ≥ 20.

const encoder = new TextEncoder();

export function b64url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Encrypt ``payload`` (an object) to ``jwk`` (the vault's RSA public JWK with its kid).
 * The protected header is exactly {alg, enc, kid}: the vault refuses anything else.
 */
export async function encryptCard(jwk, payload, subtle = globalThis.crypto.subtle) {
  const rsaKey = await subtle.importKey(
    "jwk",
    { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RSA-OAEP-256", ext: true },
    { name: "RSA-OAEP", hash: "SHA-256" },
    false,
    ["encrypt"],
  );
  const cek = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const header = b64url(encoder.encode(JSON.stringify({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: jwk.kid })));
  try {
    const encryptedKey = new Uint8Array(await subtle.encrypt({ name: "RSA-OAEP" }, rsaKey, cek));
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
    return [header, b64url(encryptedKey), b64url(iv), b64url(ciphertext), b64url(tag)].join(".");
  } finally {
    cek.fill(0);
  }
}
