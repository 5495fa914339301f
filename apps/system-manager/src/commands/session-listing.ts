// @core/session's read-only listing, by name: the read-only bundle
// (scripts/bundle-read-only.mjs) then keeps only the listing code of the
// package instead of all of it (a namespace import would keep everything).
export { listSessions } from '@core/session';
