// Verify a sealed card JWT against the live JWKS endpoint with panva/jose.
// argv: <jwks url> <issuer> <audience>; stdin: the compact JWS. stdout: {"header", "payload"}.
// Exit code 1 (and the error on stderr) when verification fails.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [jwksUrl, issuer, audience] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const token = Buffer.concat(chunks).toString("utf8").trim();
try {
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), {
    issuer,
    audience,
    algorithms: ["ES256"],
    typ: "card+jwt",
    requiredClaims: ["iss", "aud", "iat", "exp", "jti", "sub"],
  });
  process.stdout.write(JSON.stringify({ header: protectedHeader, payload: { ...payload, card: "<jwe>" } }));
} catch (error) {
  process.stderr.write(`${error.code ?? "ERR"}: ${error.message}\n`);
  process.exit(1);
}
