// Checks a payload's JSON syntax on its bytes before it is decoded to a string and parsed. Why not
// let JSON.parse say it: a JSON.parse that fails keeps its whole input alive (V8 makes a script of
// the source for the SyntaxError's location) until the next full collection, so under a flood of
// invalid payloads every rejected byte became old-generation garbage and the service's RSS grew
// by hundreds of MiB (test/dead-letter-flood.test.ts). With this check JSON.parse only sees
// payloads whose syntax is right, and an invalid one costs no string at all. The grammar is
// RFC 8259's; bytes from 0x80 up are accepted inside strings (the UTF-8 decoder checks them).

/** Why the payload is not a JSON text (with the byte offset), or undefined when its syntax is right. */
export function jsonSyntaxProblem(bytes: Uint8Array): string | undefined {
  return new Scanner(bytes).check();
}

const enum Ch {
  Tab = 0x09, Lf = 0x0a, Cr = 0x0d, Space = 0x20, Quote = 0x22, Plus = 0x2b, Comma = 0x2c, Minus = 0x2d,
  Dot = 0x2e, Zero = 0x30, Nine = 0x39, Colon = 0x3a, OpenSq = 0x5b, Backslash = 0x5c,
  CloseSq = 0x5d, OpenCurly = 0x7b, CloseCurly = 0x7d, LowerE = 0x65, UpperE = 0x45, LowerU = 0x75,
}

/** Bytes that may follow a backslash in a string (besides u). */
const ESCAPES = new Set([...'"\\/bfnrt'].map((c) => c.charCodeAt(0)));
const LITERALS: readonly (readonly number[])[] = ['true', 'false', 'null'].map((w) => [...w].map((c) => c.charCodeAt(0)));

class Invalid {
  constructor(readonly message: string) {}
}

class Scanner {
  private i = 0;

  constructor(private readonly b: Uint8Array) {
    // The UTF-8 decoder drops a leading byte order mark before parsing; so does this check.
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.i = 3;
  }

  check(): string | undefined {
    try {
      this.ws();
      if (this.i >= this.b.length) return 'the payload is empty';
      this.value();
      this.ws();
      if (this.i < this.b.length) this.fail('after the JSON value');
      return undefined;
    } catch (err) {
      if (err instanceof Invalid) return err.message;
      throw err;
    }
  }

  /** One value; containers are followed with an explicit stack, so depth costs no call stack. */
  private value(): void {
    const open: number[] = [];
    for (;;) {
      this.ws();
      const c = this.b[this.i];
      if (c === Ch.OpenCurly || c === Ch.OpenSq) {
        this.i++;
        this.ws();
        if (this.b[this.i] === (c === Ch.OpenCurly ? Ch.CloseCurly : Ch.CloseSq)) this.i++; // empty
        else {
          open.push(c);
          if (c === Ch.OpenCurly) this.key();
          continue;
        }
      } else if (c === Ch.Quote) this.string();
      else if (c === Ch.Minus || isDigit(c)) this.number();
      else this.literal();
      // After a value: close containers, or a comma and the next member or element.
      for (;;) {
        const top = open[open.length - 1];
        if (top === undefined) return;
        this.ws();
        const d = this.b[this.i];
        if (d === Ch.Comma) {
          this.i++;
          if (top === Ch.OpenCurly) this.key();
          break;
        }
        if (d === (top === Ch.OpenCurly ? Ch.CloseCurly : Ch.CloseSq)) {
          this.i++;
          open.pop();
          continue;
        }
        this.fail(top === Ch.OpenCurly ? "where ',' or '}' belongs" : "where ',' or ']' belongs");
      }
    }
  }

  /** A member's name and its colon. */
  private key(): void {
    this.ws();
    if (this.b[this.i] !== Ch.Quote) this.fail('where a property name belongs');
    this.string();
    this.ws();
    if (this.b[this.i] !== Ch.Colon) this.fail("where ':' belongs");
    this.i++;
  }

  private string(): void {
    const b = this.b;
    let i = this.i + 1;
    for (;;) {
      const c = b[i];
      if (c === undefined) this.fail('in an unterminated string', i);
      if (c === Ch.Quote) break;
      if (c < Ch.Space) this.fail('(a control character) in a string', i);
      if (c === Ch.Backslash) {
        const e = b[i + 1];
        if (e === Ch.LowerU) {
          for (let k = i + 2; k < i + 6; k++) if (!isHex(b[k])) this.fail('in a \\u escape', k);
          i += 6;
          continue;
        }
        if (e === undefined || !ESCAPES.has(e)) this.fail('after a backslash', i + 1);
        i += 2;
        continue;
      }
      i++;
    }
    this.i = i + 1;
  }

  private number(): void {
    const b = this.b;
    if (b[this.i] === Ch.Minus) this.i++;
    if (b[this.i] === Ch.Zero) this.i++;
    else if (isDigit(b[this.i])) this.digits();
    else this.fail('in a number');
    if (b[this.i] === Ch.Dot) {
      this.i++;
      if (!isDigit(b[this.i])) this.fail('in a number');
      this.digits();
    }
    if (b[this.i] === Ch.LowerE || b[this.i] === Ch.UpperE) {
      this.i++;
      if (b[this.i] === Ch.Plus || b[this.i] === Ch.Minus) this.i++;
      if (!isDigit(b[this.i])) this.fail('in a number');
      this.digits();
    }
  }

  private digits(): void {
    while (isDigit(this.b[this.i])) this.i++;
  }

  private literal(): void {
    for (const word of LITERALS) {
      if (this.b[this.i] !== word[0]) continue;
      for (let k = 0; k < word.length; k++) if (this.b[this.i + k] !== word[k]) this.fail('in a literal', this.i + k);
      this.i += word.length;
      return;
    }
    this.fail('where a value belongs');
  }

  private ws(): void {
    const b = this.b;
    for (;;) {
      const c = b[this.i];
      if (c !== Ch.Space && c !== Ch.Lf && c !== Ch.Cr && c !== Ch.Tab) return;
      this.i++;
    }
  }

  private fail(where: string, at: number = this.i): never {
    const c = this.b[at];
    throw new Invalid(c === undefined ? `the payload ends too early (${where}, at byte ${at})` : `unexpected byte 0x${c.toString(16).padStart(2, '0')} ${where} at byte ${at}`);
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= Ch.Zero && c <= Ch.Nine;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}
