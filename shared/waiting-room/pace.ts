// The pace of the line: pure rules, no Redis. How long a member waits, when it should ask again,
// and how far back it stands when only the room's head is known.

/** A member whose estimated wait is this short or shorter holds a long-poll: it is told at once. */
export const PUSH_ETA_SECONDS = 30;

/**
 * The longest a line status long-poll (`GET …/waiting?waitSeconds=N`) may hold its answer: what a
 * member near the front (`nextPollSeconds` 0) asks for.
 */
export const LINE_WAIT_MAX_SECONDS = 30;

/** Sold out is final: a member may ask again, but nothing will change. */
export const SOLD_OUT_POLL_SECONDS = 60;

/**
 * The longest a member is asked to stay away: up to 60 s, and always well inside the idle limit of
 * an admission, so a member who is admitted just after asking still learns it before the slot is
 * given away for idleness.
 */
export function pollCapSeconds(idleSeconds: number): number {
  return Math.max(1, Math.min(60, Math.floor(idleSeconds - Math.min(5, idleSeconds / 2))));
}

/**
 * When to ask again. 0 means: near the front, ask again at once with `waitSeconds` (a long-poll that
 * answers the moment the member is admitted). Further back, half the estimated wait beyond the push
 * window, up to `pollCapSeconds`.
 */
export function nextPollSeconds(
  status: 'waiting' | 'admitted' | 'sold-out',
  etaSeconds: number,
  idleSeconds: number,
): number {
  const cap = pollCapSeconds(idleSeconds);
  if (status === 'sold-out') return SOLD_OUT_POLL_SECONDS;
  if (status === 'admitted') return cap;
  if (etaSeconds <= PUSH_ETA_SECONDS) return 0;
  return Math.max(1, Math.min(cap, Math.floor((etaSeconds - PUSH_ETA_SECONDS / 2) / 2)));
}

/**
 * From the admissions measured over the last minute; with none measured yet, assume the slowest
 * turnover the rules allow (every admitted member idling out). Before the sale opens, the time
 * until it opens comes first.
 */
export function estimateEtaSeconds(
  position: number,
  admittedLastMinute: number,
  capacity: number,
  idleSeconds: number,
  secondsUntilOpen = 0,
): number {
  const wait =
    admittedLastMinute > 0
      ? Math.ceil((position * 60) / admittedLastMinute)
      : Math.ceil(position / Math.max(1, capacity)) * idleSeconds;
  return Math.max(0, Math.ceil(secondsUntilOpen)) + wait;
}

/**
 * The wait that sets the pace: an optimistic one (twice the measured admission rate, or with
 * nothing measured yet a full turnover of the capacity every 10 s), so that a member comes back
 * before its turn rather than after it when the line speeds up; the displayed `etaSeconds` stays
 * the honest estimate.
 */
export function paceEtaSeconds(
  position: number,
  admittedLastMinute: number,
  capacity: number,
  secondsUntilOpen = 0,
): number {
  const perMinute = admittedLastMinute > 0 ? 2 * admittedLastMinute : 6 * Math.max(1, capacity);
  return Math.max(0, Math.ceil(secondsUntilOpen)) + Math.floor((position * 60) / perMinute);
}

/**
 * Positions. Near the front (within EXACT_WINDOW places) a member's position is its exact rank in
 * the line, read in Redis. Further back it is its ticket less the highest ticket admitted LAG_MS
 * ago (`positionFromHead`), which every API process knows from the heads it hears, so it answers
 * without Redis. Both rules give the same answer for the same member at the same moment, whichever
 * process or path computes it, and neither ever rises: the lagged head only moves forward, the
 * rank only falls, and a member passes from the first rule to the second once, at the boundary,
 * where the exact rank is at most the estimate. The lag (longer than a head takes to reach every
 * process) is what makes two processes agree.
 */
export const EXACT_WINDOW = 1000;
export const LAG_MS = 1000;
/** How many past heads Redis keeps (one per admitting call; far more than a lag's worth). */
export const HEADS_KEPT = 5000;

/**
 * A waiting member's place from its ticket and the highest ticket admitted: every member ahead of
 * it holds a ticket between the two, so this is exact when nobody ahead left, and overstates by
 * those who did. It never rises: `through` only grows.
 */
export function positionFromHead(ticket: number, through: number): number {
  return Math.max(1, ticket - through);
}
