// Runs the hosted page's own ES modules (static/checkout/) in Node, so the tests exercise the
// exact code the browser runs. stdin: {"op": "encrypt", "jwk", "payload"} or
// {"op": "validate", "rules", "today": {year, month}, "cards": [...]}.
import { encryptCard } from "../../static/checkout/jwe.js";
import { validateCard } from "../../static/checkout/card.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
if (input.op === "encrypt") {
  process.stdout.write(await encryptCard(input.jwk, input.payload));
} else if (input.op === "validate") {
  const results = input.cards.map((card) => validateCard(input.rules, card, input.today));
  process.stdout.write(JSON.stringify(results));
} else {
  process.exit(2);
}
