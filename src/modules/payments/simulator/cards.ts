// The simulator's test cards (API.md, "The bundled card simulator") and how it decides.
// Any future expiry and any 3-4 digit CVC are accepted; any other Luhn-valid number of an issuer (not starting with 0) approves.

export const TEST_CARDS = {
  approves: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  /** Approves after SIMULATOR_SLOW_MS, longer than the client's timeout by default. */
  slow: '4000000000000259',
} as const

export interface CardDetails {
  number: string
  expMonth: number
  expYear: number
  cvc: string
}

export type CardDecision = { approve: true } | { approve: false; declineCode: string }

export function isSlowCard(card: CardDetails): boolean {
  return digitsOf(card.number) === TEST_CARDS.slow
}

export function decide(card: CardDetails, now = new Date()): CardDecision {
  const number = digitsOf(card.number)
  // No issuer's numbers start with 0 (ISO/IEC 7812): a run of zeros passes Luhn, and is no card.
  if (!/^[1-9]\d{11,18}$/.test(number) || !luhnValid(number)) return { approve: false, declineCode: 'incorrect_number' }
  if (isExpired(card, now)) return { approve: false, declineCode: 'expired_card' }
  if (!/^\d{3,4}$/.test(card.cvc)) return { approve: false, declineCode: 'incorrect_cvc' }
  if (number === TEST_CARDS.declined) return { approve: false, declineCode: 'card_declined' }
  if (number === TEST_CARDS.insufficientFunds) return { approve: false, declineCode: 'insufficient_funds' }
  return { approve: true }
}

/** The last four digits: all the simulator keeps of a card number. */
export function last4(number: string): string {
  return digitsOf(number).slice(-4)
}

// Shoppers type spaces and dashes between digit groups.
const digitsOf = (number: string) => number.replace(/[\s-]/g, '')

export function luhnValid(digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return sum % 10 === 0
}

/** A card is good through the last day of its expiry month. Two-digit years mean 20xx. */
function isExpired(card: CardDetails, now: Date): boolean {
  const year = card.expYear < 100 ? 2000 + card.expYear : card.expYear
  if (!(card.expMonth >= 1 && card.expMonth <= 12)) return true
  const firstDayAfter = Date.UTC(year, card.expMonth, 1)
  return now.getTime() >= firstDayAfter
}
