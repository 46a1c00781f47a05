// Decrypt a card JWE made by Tessera (card_encrypt or the page) with panva/jose.
// stdin: {"jwk": {...private P-256 JWK...}, "jwe": "<compact JWE>"}
// stdout: {"header": {...protected header...}, "payload": {...the card JSON...}}
// Exit code 1 (and the error on stderr) when decryption fails.
import { compactDecrypt, importJWK } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { jwk, jwe } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
try {
  const key = await importJWK(jwk, "ECDH-ES");
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, key, {
    keyManagementAlgorithms: ["ECDH-ES"],
    contentEncryptionAlgorithms: ["A256GCM"],
  });
  const payload = JSON.parse(new TextDecoder().decode(plaintext));
  process.stdout.write(JSON.stringify({ header: protectedHeader, payload }));
} catch (error) {
  process.stderr.write(`${error.code ?? "ERR"}: ${error.message}\n`);
  process.exit(1);
}
