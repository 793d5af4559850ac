// Turns a zod issue into words for the person who typed the value: "must be a whole number",
// "must be one of durable, received", never zod's own "Invalid input: expected number, received
// string". A message written in the schema itself (e.g. "must be <= 25 (...)") is kept as is.
import type { z } from 'zod';

/** Zod's built-in messages start like this; schema-authored ones do not. */
const ZOD_WORDING = /^(Invalid|Too (small|big)|Expected|Unrecognized)/;

function bound(issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean }, word: 'at least' | 'at most'): string {
  const n = word === 'at least' ? issue.minimum : issue.maximum;
  const exclusive = issue.inclusive === false;
  if (word === 'at least') return exclusive ? `must be greater than ${String(n)}` : `must be at least ${String(n)}`;
  return exclusive ? `must be less than ${String(n)}` : `must be at most ${String(n)}`;
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  if (!ZOD_WORDING.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'number' || issue.expected === 'int') return 'must be a number';
      if (issue.expected === 'boolean') return 'must be true or false';
      return `must be a ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_union':
      return 'has a value this setting does not take (see --help)';
    case 'too_small':
      return issue.origin === 'string' && issue.minimum === 1 ? 'must not be empty' : bound(issue, 'at least');
    case 'too_big':
      return bound(issue, 'at most');
    case 'invalid_format':
      if (issue.format === 'url') return 'must be a URL such as http://127.0.0.1:8000';
      if (issue.format === 'regex') return `must match ${issue.pattern ?? 'the expected pattern'}`;
      return `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return 'is not valid here (see --help)';
  }
}
