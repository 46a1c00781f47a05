// Card rules for the hosted checkout: the same table as the server (vault/cards.py), which
// the page embeds as JSON, so the browser and the vault can never disagree on a card.
// Pure functions, no DOM: the tests run them in Node against the Python rules.

const SEPARATORS = /[ -]/g;

export function normalizeNumber(value) {
  if (typeof value !== "string" || value.length > 64) return null;
  const digits = value.trim().replace(SEPARATORS, "");
  return /^[0-9]+$/.test(digits) ? digits : null;
}

export function luhnValid(digits) {
  let total = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let value = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2) {
      value *= 2;
      if (value > 9) value -= 9;
    }
    total += value;
  }
  return total % 10 === 0;
}

function prefixMatch(rule, digits) {
  let best = 0;
  for (const [low, high] of rule.prefixes) {
    const width = low.length;
    const head = digits.slice(0, width);
    if (digits.length >= width && low <= head && head <= high) best = Math.max(best, width);
  }
  return best;
}

/** The brand rule whose longest IIN prefix matches, or null. */
export function brandRule(rules, digits) {
  let best = 0;
  let found = null;
  for (const rule of rules.brands) {
    const width = prefixMatch(rule, digits || "");
    if (width > best) {
      best = width;
      found = rule;
    }
  }
  return found;
}

/** Groups for display as typed: 4-6-5 for amex, 4-6-4 for 14-digit diners, else fours. */
export function formatNumber(digits, rule) {
  let groups;
  if (rule && rule.brand === "amex") groups = [4, 6, 5];
  else if (rule && rule.brand === "diners" && digits.length <= 14) groups = [4, 6, 4];
  else groups = [4, 4, 4, 4, 3];
  const out = [];
  let at = 0;
  for (const size of groups) {
    if (at >= digits.length) break;
    out.push(digits.slice(at, at + size));
    at += size;
  }
  if (at < digits.length) out.push(digits.slice(at));
  return out.join(" ");
}

/** Digits allowed in the number field for the brand typed so far. */
export function maxNumberLength(rules, rule) {
  return rule ? Math.max(...rule.lengths) : rules.max_length;
}

export function cvcLength(rule) {
  return rule ? rule.cvc_length : 3;
}

/** "MM / YY" (or "MM/YYYY") → [month, year] as typed; nulls when a part is missing. */
export function parseExpiry(value) {
  const match = /^\s*(\d{1,2})\s*\/?\s*(\d{2}|\d{4})?\s*$/.exec(value || "");
  if (!match) return [undefined, undefined];
  return [match[1], match[2]];
}

function asInt(value, maxDigits) {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^[0-9]+$/.test(value.trim()) && value.trim().length <= maxDigits) {
    return Number.parseInt(value.trim(), 10);
  }
  return null;
}

const missing = (v) => v === undefined || v === null || (typeof v === "string" && !v.trim());

/**
 * Every field error at once, with the server's codes and message keys:
 * [{field: "number"|"exp_month"|"exp_year"|"cvc", code, message}].
 * ``today`` is {year, month} (1-based month), UTC like the server.
 */
export function validateCard(rules, card, today) {
  const errors = [];
  const fail = (field, code, key) => errors.push({ field, code, message: rules.messages[key] });
  let rule = null;

  if (missing(card.number)) fail("number", "missing_field", "number_missing");
  else {
    const digits = normalizeNumber(card.number);
    if (digits === null) fail("number", "invalid_number", "number_invalid");
    else if (digits.length < rules.min_length) fail("number", "invalid_number", "number_incomplete");
    else if (digits.length > rules.max_length) fail("number", "invalid_number", "number_too_long");
    else {
      const found = brandRule(rules, digits);
      if (!found) fail("number", "unsupported_brand", "brand_unsupported");
      else if (!found.lengths.includes(digits.length)) {
        const short = digits.length < Math.max(...found.lengths);
        fail("number", "invalid_number", short ? "number_incomplete" : "number_too_long");
      } else if (!luhnValid(digits)) fail("number", "incorrect_number", "number_incorrect");
      else rule = found; // like the server, the CVC length follows a fully valid number only
    }
  }

  let month = null;
  let year = null;
  if (missing(card.exp_month)) fail("exp_month", "missing_field", "month_missing");
  else {
    month = asInt(card.exp_month, 2);
    if (month === null || month < 1 || month > 12) {
      month = null;
      fail("exp_month", "invalid_expiry_month", "month_invalid");
    }
  }
  if (missing(card.exp_year)) fail("exp_year", "missing_field", "year_missing");
  else {
    year = asInt(card.exp_year, 4);
    if (year !== null && year < 100) year += 2000;
    if (year === null || year < 2000 || year > today.year + rules.max_years_ahead) {
      year = null;
      fail("exp_year", "invalid_expiry_year", "year_invalid");
    }
  }
  if (year !== null && year < today.year) fail("exp_year", "expired_card", "expired");
  else if (month !== null && year !== null && year === today.year && month < today.month) {
    fail("exp_month", "expired_card", "expired");
  }

  if (missing(card.cvc)) fail("cvc", "missing_field", "cvc_missing");
  else {
    const text = typeof card.cvc === "string" ? card.cvc.trim() : null;
    const allowed = rule ? [rule.cvc_length] : [3, 4];
    if (text === null || !/^[0-9]+$/.test(text)) fail("cvc", "invalid_cvc", "cvc_invalid");
    else if (!allowed.includes(text.length)) {
      fail("cvc", "invalid_cvc", text.length < Math.max(...allowed) ? "cvc_incomplete" : "cvc_invalid");
    }
  }
  return errors;
}
