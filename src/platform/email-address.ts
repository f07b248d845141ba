/**
 * An e-mail address as it is stored and compared: an account's, an order's, a checkout
 * request's. Case and surrounding spaces are how it was typed, not who it is; NFC, so the
 * same letters typed on two keyboards are one address.
 */
export const normalizeEmail = (email: string) => email.trim().toLowerCase().normalize('NFC')
