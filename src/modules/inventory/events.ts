import { eventTypes } from '../../platform/bus/outbox.ts'

/**
 * The events inventory writes: `inventory.availability_changed` when a variant runs out or
 * comes back (the catalog's inStock and search's filter follow it), `inventory.low` when
 * what is on hand falls to the low-stock threshold.
 */
export const inventoryEvents = eventTypes(['inventory.availability_changed', 'inventory.low'])
