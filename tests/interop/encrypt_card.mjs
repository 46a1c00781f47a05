// Encrypt a card to the vault's published JWK with panva/jose, as a third-party client would.
// stdin: {"jwk": {...public RSA JWK...}, "card": {...card JSON incl. sid and nonce...}}
// stdout: compact JWE.
import { CompactEncrypt, importJWK } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { jwk, card } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const key = await importJWK(jwk, "RSA-OAEP-256");
const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(card)))
  .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: jwk.kid })
  .encrypt(key);
process.stdout.write(jwe);
