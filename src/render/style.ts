// ANSI colours, off unless asked for (a TTY without NO_COLOR); plain output is byte-stable.
export interface Style {
  green: (s: string) => string;
  yellow: (s: string) => string;
  red: (s: string) => string;
  cyan: (s: string) => string;
  bold: (s: string) => string;
  dim: (s: string) => string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

export const plainStyle: Style = { green: (s) => s, yellow: (s) => s, red: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };
export const colorStyle: Style = {
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  red: wrap(31, 39),
  cyan: wrap(36, 39),
  bold: wrap(1, 22),
  dim: wrap(2, 22),
};

export function styleFor(stream: { isTTY?: boolean }, noColor = false): Style {
  return stream.isTTY && !noColor && !process.env.NO_COLOR ? colorStyle : plainStyle;
}
