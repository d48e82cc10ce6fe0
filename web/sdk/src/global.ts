/**
 * Script-tag entry (IIFE): installs `window.clickstream` and replays the calls the embed
 * snippet's stub queued (`clickstream.q`) before the script loaded.
 */
import { createClient } from "./client";

// `self` is `window` on a page (and shorter); the stub object, if any, stays the same object
const c = Object.assign(((self as any).clickstream ||= {}), createClient());
for (const [m, ...a] of (c.q || []) as [string, ...unknown[]][]) c[m]?.(...a);
delete c.q;
