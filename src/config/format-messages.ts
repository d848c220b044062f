// Plain-words explanations for values that fail one of the schema's patterns. The schema keeps the
// patterns so editors flag them as you type; these turn ajv's "must match pattern" into advice.

import { DURATION_PATTERN, MEMORY_PATTERN } from './units.js';
import type { KeyPath } from './key-path.js';
import { MAX_ID } from './raw-config.js';

export const NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,39}$';
export const ENV_VAR_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
export const SECRET_NAME_PATTERN = '^[a-z0-9_][a-z0-9_.-]*$';
export const USER_PATTERN = '^[0-9]+(:[0-9]+)?$';

export interface Explanation {
  message: string;
  hint?: string;
}

/** `subject` names the value in the message, e.g. `'memory'` or `environment name 'Agent'`. */
export function explainPatternMismatch(pattern: string, value: unknown, subject: string): Explanation {
  const shown = typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
  switch (pattern) {
    case NAME_PATTERN: {
      const fixed = suggestName(String(value));
      return {
        message: `${subject} must be lowercase letters, digits and '-', start with a letter or digit, and be at most 40 characters`,
        hint: fixed ? `try '${fixed}' (names become parts of container, network and volume names)` : undefined,
      };
    }
    case ENV_VAR_PATTERN:
      return {
        message: `${subject} is not a valid environment variable name`,
        hint: "use letters, digits and '_', not starting with a digit",
      };
    case SECRET_NAME_PATTERN:
      return {
        message: `${subject} is not a valid secret name`,
        hint: "use lowercase letters, digits, '_', '.' and '-': the name becomes a file name under /run/secrets",
      };
    case MEMORY_PATTERN:
      return memoryExplanation(subject, shown);
    case DURATION_PATTERN:
      return durationExplanation(subject, shown);
    case USER_PATTERN:
      return userExplanation(subject, value);
    default:
      return { message: `${subject} does not match the pattern ${pattern}: ${shown}` };
  }
}

/** A string past the schema's maxLength; `path` says what it is (a key's path ends in the key). */
export function tooLongExplanation(subject: string, limit: number, value: unknown, path: KeyPath): Explanation {
  const length = typeof value === 'string' ? ` (${[...value].length})` : '';
  const secretName = path.length >= 2 && path[path.length - 2] === 'secrets';
  return {
    message: `${subject} is longer than ${limit} characters${length}`,
    hint: secretName ? `shorten it: the secret becomes the file /run/secrets/NAME, and Linux allows no file name longer than ${limit} bytes` : undefined,
  };
}

export function memoryExplanation(subject: string, shown: string): Explanation {
  return {
    message: `${subject} is not a size: ${shown}`,
    hint: 'write a size like 512m, 1g, 256Mi or 1GiB, or a number of bytes',
  };
}

export function durationExplanation(subject: string, shown: string): Explanation {
  return {
    message: `${subject} is not a duration: ${shown}`,
    hint: 'write a duration like 30s, 15m, 2h or 1h30m, or never',
  };
}

export function userExplanation(subject: string, value: unknown): Explanation {
  const isName = typeof value === 'string' && /[A-Za-z]/.test(value);
  const ids = typeof value === 'number' ? [value] : typeof value === 'string' && /^[0-9]+(:[0-9]+)?$/.test(value.trim()) ? value.trim().split(':').map(Number) : [];
  if (ids.some((id) => Number.isInteger(id) && id > MAX_ID)) {
    return {
      message: `${subject} ids must be at most ${MAX_ID}: ${JSON.stringify(value)}`,
      hint: `4294967295 is Linux's "no id" (the runtime cannot start the container with it) and larger ones do not fit; pick an id such as 43210`,
    };
  }
  return {
    message: isName ? `${subject} must be a numeric UID or UID:GID, not a name: '${value}'` : `${subject} must be a numeric UID or UID:GID: ${JSON.stringify(value)}`,
    hint: 'numeric ids are needed so secret files can be owned by the user; find them with `id -u NAME` and `id -g NAME` inside the image',
  };
}

function suggestName(value: string): string | undefined {
  const fixed = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return fixed !== '' && fixed !== value ? fixed : undefined;
}
