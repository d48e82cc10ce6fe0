/**
 * The one contract rule the SDK checks itself: event names. Everything else (ecommerce rules,
 * property types, sizes) is the server's to judge: it quarantines a bad event with a reason the
 * pipeline-health page shows, which a console warning in a visitor's browser never would.
 */
export const EVENT_NAME = /^[a-z][a-z0-9_]{0,39}$/;
