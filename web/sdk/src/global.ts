/**
 * Script-tag entry (IIFE): installs `window.clickstream` and replays the calls the embed
 * snippet's stub queued (`clickstream.q`) before the script loaded.
 */
import { createClient } from "./client";

const w = window as any,
  c = (w.clickstream ||= {}),
  q: [string, ...unknown[]][] = c.q || [];
Object.assign(c, createClient());
delete c.q;
q.forEach(([m, ...a]) => c[m]?.(...a));
