import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { accountCartId } from './account-cart.ts'
import type { CartStore } from './store.ts'
import { CART_ID, MAX_QUANTITY, ORDER_HOLDER } from './store.ts'

const RAISE_ATTEMPTS = 5
/** How long a sign-in waits for a checkout of the guest cart to end before merging without it. */
const CHECKOUT_WAIT_MS = 5_000
const CHECKOUT_POLL_MS = 100
/** The merge's own hold on the guest cart: no checkout of it starts while its lines move. */
const MERGE_CLAIM_MS = 10_000

/** A guest line that did not make it into the account cart. */
export interface UnmergedLine {
  variantId: string
  quantity: number
}

/**
 * Moves a guest cart into the customer's account cart at sign-in: where both hold a line the
 * higher quantity wins, lines in only one are kept, and the guest cart is removed. A guest
 * line the full account cart (MAX_LINES) has no room for, one in another currency than the
 * account cart's, one that other writes kept racing, or one being bought (see below), is not
 * dropped: it is answered, so the shopper can be told, and stays in the guest cart.
 *
 * The two carts live in different Redis Cluster slots, so this is not one transaction; it
 * is made of steps that are each atomic and idempotent (raise a line to at least n, then
 * delete the guest cart). A merge cut short is completed by running it again, and a second
 * merge finds no guest cart and changes nothing.
 */
export async function mergeGuestCart(store: CartStore, customerId: string, guestCartId: string): Promise<UnmergedLine[]> {
  if (!CART_ID.test(guestCartId)) return []
  const guest = await store.meta(guestCartId)
  if (!guest) return [] // expired, never existed, or merged already
  // An account cart is not merged: the customer's own is the target, and another account's
  // (its id left on a shared device) is not theirs to take. The sign-in goes on without it:
  // a stale cart id must not keep someone with the right password out.
  if (guest.owner !== null) return []

  // Lines being bought must not move: the checkout takes what it bought out of the guest
  // cart, and a copy in the account cart would be bought (and charged) again. So the merge
  // holds the guest cart's checkout claim while it moves the lines, waiting a moment for a
  // running checkout to end. A cart whose order's payment is still processing stays
  // claimed by that order (checkout-port, holdForOrder): it is not merged now, and its
  // lines are answered as not merged (the guest cart keeps them).
  const holder = `merge:${randomBytes(9).toString('base64url')}`
  if (!(await claimForMerge(store, guestCartId, holder))) {
    return [...(await store.lines(guestCartId))].map(([variantId, quantity]) => ({ variantId, quantity }))
  }
  try {
    await store.markMerging(guestCartId, MERGE_CLAIM_MS)
    return await moveLines(store, customerId, guestCartId)
  } finally {
    await Promise.all([store.unmarkMerging(guestCartId), store.releaseCheckout(guestCartId, holder)])
  }
}

async function claimForMerge(store: CartStore, guestCartId: string, holder: string): Promise<boolean> {
  for (let waited = 0; ; waited += CHECKOUT_POLL_MS) {
    if (await store.claimCheckout(guestCartId, holder, MERGE_CLAIM_MS)) return true
    if (waited >= CHECKOUT_WAIT_MS || (await store.checkoutHolder(guestCartId))?.startsWith(ORDER_HOLDER)) return false
    await sleep(CHECKOUT_POLL_MS)
  }
}

async function moveLines(store: CartStore, customerId: string, guestCartId: string): Promise<UnmergedLine[]> {
  const accountId = await accountCartId(store, customerId)
  const [guestLines, guestSnapshots, accountSnapshots] = await Promise.all([
    store.lines(guestCartId),
    store.snapshots(guestCartId),
    store.snapshots(accountId),
  ])
  // A cart is in one currency (adds enforce it): guest lines in another one stay out.
  const accountCurrency = [...accountSnapshots.values()][0]?.unitPrice.currency ?? null
  const unmerged: UnmergedLine[] = []
  for (const [variantId, quantity] of guestLines) {
    const currency = guestSnapshots.get(variantId)?.unitPrice.currency
    if (accountCurrency !== null && currency !== undefined && currency !== accountCurrency) {
      unmerged.push({ variantId, quantity })
      continue
    }
    const raised = await raiseLine(store, accountId, variantId, Math.min(quantity, MAX_QUANTITY))
    if (!raised) unmerged.push({ variantId, quantity })
    const snapshot = guestSnapshots.get(variantId)
    if (raised && snapshot && !accountSnapshots.has(variantId)) await store.saveSnapshot(accountId, variantId, snapshot)
  }
  await store.touch(accountId, customerId)
  // The lines that did not move stay in the guest cart, which the shopper can still reach
  // by its id (and a later sign-in tries them again); a cart with nothing left goes.
  if (unmerged.length === 0) await store.destroy(guestCartId)
  else {
    const stays = new Set(unmerged.map((line) => line.variantId))
    await store.takeMoved(guestCartId, [...guestLines].filter(([variantId]) => !stays.has(variantId)).map(([variantId, quantity]) => ({ variantId, quantity })))
  }
  return unmerged
}

/**
 * Raises a line to at least `quantity` with compare-and-set, so an add racing the merge is
 * not lost. Answers false when the line did not fit (the account cart is full) or other
 * writes to it kept winning the race.
 */
async function raiseLine(store: CartStore, cartId: string, variantId: string, quantity: number): Promise<boolean> {
  let current = await store.quantity(cartId, variantId)
  for (let attempt = 0; attempt < RAISE_ATTEMPTS; attempt++) {
    if (current >= quantity) return true
    const result = await store.compareAndSet(cartId, variantId, current, quantity)
    if (result.applied) return true
    if (result.refused === 'fields' || result.refused === 'gone') return false
    current = result.value
  }
  return false
}
