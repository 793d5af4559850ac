// Finds number literals in a JSON text that a double cannot hold exactly: what JSON.parse would
// silently change (1e-400 becomes 0, 9007199254740993 becomes ...992, 0.1000000000000000000001
// becomes 0.1). Such a reading is refused with its own reason instead of being stored altered.
// The scan runs only when the text contains a long digit run or an exponent, so ordinary payloads
// pay one regex test.
const SUSPECT = /[0-9]{16}|[0-9.][eE][+-]?[0-9]/;

/** The first number literal in `text` whose value as a double differs from its decimal text, or undefined. */
export function firstInexactNumber(text: string): string | undefined {
  if (!SUSPECT.test(text)) return undefined;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, escapes included.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) j++;
      const literal = text.slice(i, j);
      if (!isExact(literal)) return literal;
      i = j - 1;
    }
  }
  return undefined;
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** Whether the double nearest to `literal` has the same decimal value as `literal`. */
export function isExact(literal: string): boolean {
  const value = Number(literal);
  // Beyond a double's range: JSON.parse gives ±Infinity, which the range check refuses with its own reason.
  if (!Number.isFinite(value)) return true;
  return canonical(literal) === canonical(String(value));
}

/** Sign, significant digits and exponent of a decimal text, e.g. "-1.50e3" -> "-15e2"; zero -> "0". */
function canonical(text: string): string {
  let s = text;
  const negative = s.startsWith('-');
  if (negative) s = s.slice(1);
  let exponent = 0;
  const e = s.search(/[eE]/);
  if (e >= 0) {
    exponent = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf('.');
  if (dot >= 0) {
    exponent -= s.length - dot - 1;
    s = s.slice(0, dot) + s.slice(dot + 1);
  }
  let start = 0;
  while (start < s.length && s.charCodeAt(start) === 0x30) start++;
  let end = s.length;
  while (end > start && s.charCodeAt(end - 1) === 0x30) {
    end--;
    exponent++;
  }
  if (end === start) return '0';
  return `${negative ? '-' : ''}${s.slice(start, end)}e${exponent}`;
}
