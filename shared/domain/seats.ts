// Types both sides of the commit path share (the API, the workers and the repositories under
// shared/db), defined once here so that shared/db never imports a feature module for a type.

export type SeatStatus = 'available' | 'held' | 'sold';

/** One change of a seat's status: one seat event, numbered per performance in commit order. */
export type SeatChange = { seq: number; seatId: number; status: SeatStatus };

/** What is left to sell, as the waiting room needs it. */
export type StockState = 'open' | 'none' | 'sold-out';
