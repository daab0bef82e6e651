/** Terminal styling for human output: ANSI colours when the stream written to is a TTY and NO_COLOR is unset. */

/** The stream the styled text goes to: only whether it is a terminal matters. */
export interface Styled {
  readonly isTTY?: boolean;
}

const enabled = (stream: Styled): boolean => stream.isTTY === true && process.env['NO_COLOR'] === undefined;

const wrap = (open: string, close: string) => (s: string, stream: Styled): string =>
  enabled(stream) ? `\x1b[${open}m${s}\x1b[${close}m` : s;

export const style = {
  bold: wrap('1', '22'),
  dim: wrap('2', '22'),
  red: wrap('31', '39'),
  green: wrap('32', '39'),
  yellow: wrap('33', '39'),
  cyan: wrap('36', '39'),
};
