// The hosted checkout page's only script: formats and checks the card as it is typed, with the
// vault's own rules (card.js), then encrypts it in the browser (jwe.js) and posts only the JWE.
// No inline script: the page hands over the rules, the vault key, the session id and the page
// nonce as a JSON data block. The raw card inputs lose their `name` here, so the browser can
// never post them; if this module does not run, they keep it and the server-side path works.

import { brandRule, cvcLength, formatNumber, maxNumberLength, validateCard } from "./card.js";
import { encryptCard } from "./jwe.js";

const FIELD_OF = { number: "number", exp_month: "exp", exp_year: "exp", cvc: "cvc" };
const CARD_INPUTS = ["number", "exp", "cvc"];

/** "MM / YY" as typed: "1" → "1", "3" → "03 / ", "12" → "12 / ", "12/2030" → "12 / 30". */
export function formatExpiry(value, deleting = false) {
  let text = value || "";
  const fourDigitYear = /^\s*(\d{1,2})\s*\/\s*(\d{2})(\d{2})\s*$/.exec(text);
  if (fourDigitYear) text = `${fourDigitYear[1].padStart(2, "0")}${fourDigitYear[3]}`;
  const singleMonth = /^\s*(\d)\s*\/\s*(\d*)\s*$/.exec(text);
  if (singleMonth) text = `0${singleMonth[1]}${singleMonth[2]}`;
  let digits = text.replace(/\D/g, "");
  if (digits.length === 1 && digits > "1") digits = `0${digits}`;
  digits = digits.slice(0, 4);
  if (digits.length < 2) return digits;
  if (digits.length === 2) return deleting ? digits : `${digits} / `;
  return `${digits.slice(0, 2)} / ${digits.slice(2)}`;
}

/** Split "MM / YY" into the strings the card rules check. */
export function expiryParts(value) {
  const digits = (value || "").replace(/\D/g, "");
  return [digits.slice(0, 2) || undefined, digits.slice(2) || undefined];
}

/** Caret position after ``count`` digits in ``text``. */
function caretAfterDigits(text, count) {
  if (count <= 0) return 0;
  let seen = 0;
  for (let i = 0; i < text.length; i += 1) {
    if (/\d/.test(text[i])) seen += 1;
    if (seen === count) return i + 1;
  }
  return text.length;
}

function countDigits(text) {
  return (text.match(/\d/g) || []).length;
}

function start(document) {
  const form = document.getElementById("checkout-form");
  const configNode = document.getElementById("checkout-config");
  if (!form || !configNode) return;
  const config = JSON.parse(configNode.textContent);
  const { rules, messages } = config;
  const input = {
    name: document.getElementById("cc-name"),
    number: document.getElementById("cc-number"),
    exp: document.getElementById("cc-exp"),
    cvc: document.getElementById("cc-csc"),
  };
  const brand = document.getElementById("card-brand");
  const cvcHint = document.getElementById("cvc-hint");
  const cvcHintText = cvcHint.textContent;
  const formError = document.getElementById("form-error");
  const live = document.getElementById("live");
  const button = document.getElementById("pay-button");
  const buttonText = button.textContent;

  // From here on the raw card can only leave the page encrypted.
  for (const field of CARD_INPUTS) input[field].removeAttribute("name");
  const secured = document.getElementById("secured");
  if (secured) secured.textContent = messages.secured;
  form.noValidate = true;
  const jweField = document.createElement("input");
  jweField.type = "hidden";
  jweField.name = "card_jwe";
  form.append(jweField);

  const touched = new Set();
  let busy = false;

  function digitsOf(value) {
    return (value || "").replace(/\D/g, "");
  }

  function currentRule() {
    return brandRule(rules, digitsOf(input.number.value));
  }

  function card() {
    const [month, year] = expiryParts(input.exp.value);
    return { number: digitsOf(input.number.value), exp_month: month, exp_year: year, cvc: input.cvc.value.trim() };
  }

  function fieldErrors() {
    const byField = {};
    for (const error of validateCard(rules, card(), config.today)) {
      const field = FIELD_OF[error.field];
      if (field && !(field in byField)) byField[field] = error.message;
    }
    return byField;
  }

  function show(field, message) {
    const node = document.getElementById(`${field}-error`);
    node.textContent = message || "";
    if (message) input[field].setAttribute("aria-invalid", "true");
    else input[field].removeAttribute("aria-invalid");
  }

  function check(field) {
    show(field, fieldErrors()[field]);
  }

  function showFormError(message) {
    formError.textContent = message || "";
    formError.hidden = !message;
  }

  // The brand's own mark (a self-hosted SVG), named by its alt text; the label if none.
  function showBrand(rule) {
    const name = rule ? rule.brand : "";
    if (brand.dataset.brand === name) return;
    brand.dataset.brand = name;
    const mark = rule && config.marks && config.marks[name];
    if (!mark) {
      brand.textContent = rule ? rule.label : "";
      return;
    }
    const image = new Image(40, 26);
    image.src = mark;
    image.alt = rule.label;
    brand.replaceChildren(image);
  }

  function onNumberInput(event) {
    const field = input.number;
    const caretDigits = countDigits(field.value.slice(0, field.selectionStart ?? field.value.length));
    let digits = digitsOf(field.value);
    let rule = brandRule(rules, digits);
    digits = digits.slice(0, maxNumberLength(rules, rule));
    rule = brandRule(rules, digits);
    const formatted = formatNumber(digits, rule);
    if (formatted !== field.value) {
      field.value = formatted;
      const caret = caretAfterDigits(formatted, caretDigits);
      if (document.activeElement === field) field.setSelectionRange(caret, caret);
    }
    showBrand(rule);
    const length = cvcLength(rule);
    input.cvc.maxLength = rule ? length : 4;
    cvcHint.textContent = rule ? messages[`cvc_hint_${length}`] : cvcHintText;
    if (input.cvc.value.length > input.cvc.maxLength) input.cvc.value = input.cvc.value.slice(0, input.cvc.maxLength);
    if (touched.has("number") || event === null) check("number");
  }

  input.number.addEventListener("input", onNumberInput);
  input.exp.addEventListener("input", (event) => {
    const deleting = typeof event.inputType === "string" && event.inputType.startsWith("delete");
    const formatted = formatExpiry(input.exp.value, deleting);
    if (formatted !== input.exp.value) input.exp.value = formatted;
    if (touched.has("exp")) check("exp");
  });
  input.cvc.addEventListener("input", () => {
    const digits = digitsOf(input.cvc.value).slice(0, input.cvc.maxLength);
    if (digits !== input.cvc.value) input.cvc.value = digits;
    if (touched.has("cvc")) check("cvc");
  });
  for (const field of CARD_INPUTS) {
    // "Reward early, punish late": a field is judged once the shopper leaves it.
    input[field].addEventListener("blur", () => {
      if (!input[field].value) return;
      touched.add(field);
      check(field);
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    showFormError("");
    const errors = fieldErrors();
    for (const field of CARD_INPUTS) {
      touched.add(field);
      show(field, errors[field]);
    }
    const invalid = CARD_INPUTS.filter((field) => errors[field]);
    if (invalid.length) {
      live.textContent = invalid.length === 1 ? errors[invalid[0]] : `${messages.summary_many} ${invalid.map((f) => errors[f]).join(" ")}`;
      input[invalid[0]].focus();
      return;
    }
    busy = true;
    button.disabled = true;
    button.textContent = messages.processing;
    live.textContent = messages.processing;
    const raw = card();
    const name = input.name.value.trim();
    const year = Number.parseInt(raw.exp_year, 10);
    const payload = {
      number: raw.number,
      exp_month: Number.parseInt(raw.exp_month, 10),
      exp_year: year < 100 ? 2000 + year : year,
      cvc: raw.cvc,
      ...(name ? { name } : {}),
      sid: config.session,
      nonce: config.nonce,
    };
    try {
      const started = performance.now();
      jweField.value = await encryptCard(config.jwk, payload);
      performance.measure("tessera:card-encrypt", { start: started, end: performance.now() });
    } catch (error) {
      busy = false;
      button.disabled = false;
      button.textContent = buttonText;
      showFormError(messages.encrypt_failed);
      formError.focus();
      return;
    }
    // Nothing raw stays in the page once the card is on its way (back/forward cache included).
    input.number.value = "";
    input.cvc.value = "";
    form.submit();
  });

  // Coming back through the back/forward cache: the form is usable again.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    busy = false;
    button.disabled = false;
    button.textContent = buttonText;
    jweField.value = "";
  });

  if (input.number.value) onNumberInput(null);
}

if (typeof document !== "undefined") start(document);
