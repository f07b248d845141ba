// The home region each country maps to. The region is stored with the customer now so that
// data residency can pin them to that region's database later.
import { isCountryCode } from '../../platform/countries.ts'

// The EU's 27 and the EEA's three (IS, LI, NO), plus territories with their own code that
// are part of the EU: Åland and the French outermost regions.
const EU_EEA = new Set(
  `AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE
   IS LI NO AX GF GP MQ RE YT MF`.split(/\s+/),
)

export type Region = 'eu' | 'us'

/** The upper-cased code when it is an assigned ISO 3166-1 alpha-2 code, else null. */
export function countryCode(input: string): string | null {
  const code = input.trim().toUpperCase()
  return isCountryCode(code) ? code : null
}

export const regionOf = (country: string): Region => (EU_EEA.has(country) ? 'eu' : 'us')
