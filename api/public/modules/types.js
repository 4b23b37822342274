// @ts-check
// Shapes of the API's answers (contract §3), for JSDoc types only: this module exports nothing at run time.

/**
 * @typedef {{ id: number, name: string, place: string, showtime: string, seatCount: number,
 *   availableCount: number, soldOut: boolean, currency?: string }} PerformanceSummary
 * @typedef {{ id: number, name: string, price: number }} Grade
 * @typedef {{ id: number, name: string, seatCount?: number, availableCount?: number }} ZoneInfo
 * @typedef {PerformanceSummary & { admissionCapacity: number, maxSeatsPerMember: number, heldCount: number,
 *   soldCount: number, grades: Grade[], zones: ZoneInfo[] }} PerformanceDetail
 * @typedef {'available' | 'held' | 'sold'} SeatStatus
 * @typedef {{ id: number, code: string, zone: string, row?: string, number?: number, grade: string,
 *   price: number, status: SeatStatus }} Seat
 * @typedef {{ status: 'waiting' | 'admitted' | 'sold-out', ticket: number, position: number,
 *   etaSeconds: number, nextPollSeconds: number, admittedUntil?: string, opensAt?: string,
 *   drawAt?: string }} WaitingStatus
 *   `position` is 1 for the next member admitted and 0 once admitted (absent in a shuffle-at-open
 *   pre-queue, where `drawAt` says when places are drawn). `nextPollSeconds` (also `Retry-After`) is
 *   when to ask again: 0 means at once with `waitSeconds` (a long-poll), otherwise after that many
 *   seconds (1..60). `opensAt` is present while the sale has not opened yet.
 * @typedef {{ id: number, performanceId: number, seatIds: number[],
 *   status: 'held' | 'confirmed' | 'released' | 'expired', expiresAt: string }} Hold
 * @typedef {{ requestId: number, kind: 'hold' | 'confirm' | 'release',
 *   status: 'queued' | 'processing' | 'succeeded' | 'rejected', position?: number, hold?: Hold,
 *   tickets?: { serial: string, seatId: number }[], reason?: string }} SeatRequest
 * @typedef {{ serial: string, seatId: number, performanceId: number, seatCode: string, zone?: string,
 *   price: number }} Ticket
 * @typedef {{ token: string, memberId: number, email: string, expiresAt: number }} Session
 */

export {};
