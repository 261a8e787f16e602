// Times as people say them: "just now", "5 minutes ago", "yesterday".
const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

/** How long ago a time in seconds since the epoch was. */
export function ago(seconds, now = Date.now() / 1000) {
  const elapsed = now - seconds;
  for (const [unit, size] of UNITS) {
    if (elapsed >= size) return RELATIVE.format(-Math.floor(elapsed / size), unit);
  }
  return "just now";
}

/** "edited by Ann, 2 minutes ago" for a bubble; "" when it does not say (stored before
 * bubblemap kept it). */
export function editedBy(bubble, now = Date.now() / 1000) {
  if (!bubble.edited_by) return "";
  return bubble.edited_at ? `edited by ${bubble.edited_by}, ${ago(bubble.edited_at, now)}` : `edited by ${bubble.edited_by}`;
}

/** How often a page redraws its relative times (ms): "just now" becomes "1 minute ago". */
export const RELATIVE_TIME_REFRESH = 30_000;
