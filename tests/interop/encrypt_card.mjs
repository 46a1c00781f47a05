// Encrypt a card to the vault's published JWK with panva/jose, as a third-party client would.
// stdin: {"jwk": {...public P-256 JWK...}, "card": {...card JSON incl. sid and nonce...}}
// stdout: compact JWE (ECDH-ES + A256GCM, the session id and nonce as apu/apv).
import { CompactEncrypt, importJWK } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { jwk, card } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const key = await importJWK(jwk, "ECDH-ES");
const encoder = new TextEncoder();
const jwe = await new CompactEncrypt(encoder.encode(JSON.stringify(card)))
  .setProtectedHeader({ alg: "ECDH-ES", enc: "A256GCM", kid: jwk.kid })
  .setKeyManagementParameters({ apu: encoder.encode(card.sid), apv: encoder.encode(card.nonce) })
  .encrypt(key);
process.stdout.write(jwe);
