// Word lists for the synthetic catalog. Every brand and product line is invented.

/** How a leaf category's products vary: drives the variant titles ("Size M / Blue"). */
export type OptionKind = 'apparel' | 'shoe' | 'color' | 'capacity' | 'volume' | 'bed' | 'pack'

export interface LeafCategory {
  /** Slug path, e.g. 'footwear/boots'. */
  path: string
  nouns: readonly string[]
  materials: readonly string[]
  options: OptionKind
  /** Base price range in whole dollars. */
  price: readonly [number, number]
}

export interface TopCategory {
  slug: string
  brands: readonly string[]
  /** Sentences that fit any product of this department. */
  features: readonly string[]
  leaves: readonly LeafCategory[]
}

const OUTDOOR_BRANDS = ['Northpeak', 'Trailrunner Co', 'Cedar & Pine', 'Alpenglow', 'Granite Ridge', 'Basecamp Supply'] as const
const CITY_BRANDS = ['Harbor Lane', 'Kestrel', 'Urban Thread', 'Fieldhouse', 'Linden & Co', 'Marlowe'] as const
const TECH_BRANDS = ['Voltwave', 'Lumio', 'Soniq', 'Arcfield', 'Nimbus Labs', 'Quanta Audio'] as const
const HOME_BRANDS = ['Hearthstone', 'Oak & Ember', 'Nestwell', 'Copperleaf', 'Slumberly', 'Tidewater Home'] as const
const SPORT_BRANDS = ['Stridewell', 'Peak Motion', 'Velora', 'Ironclad Fitness', 'Zenflow'] as const
const BEAUTY_BRANDS = ['Lunaria', 'Botanica Bay', 'Pure Petal', 'Saltmarsh'] as const
const TOY_BRANDS = ['Brickwise', 'Tinker Tree', 'Puzzlewood', 'Little Comet'] as const

export const COLORS = [
  'Black', 'White', 'Navy', 'Blue', 'Forest Green', 'Olive', 'Charcoal', 'Grey', 'Red', 'Burgundy',
  'Sand', 'Tan', 'Rust', 'Teal', 'Slate', 'Mustard', 'Sage', 'Plum',
] as const
export const APPAREL_SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL'] as const
export const SHOE_SIZES = ['US 6', 'US 7', 'US 8', 'US 9', 'US 10', 'US 11', 'US 12', 'US 13'] as const
export const CAPACITIES = ['32 GB', '64 GB', '128 GB', '256 GB', '512 GB'] as const
export const VOLUMES = ['30 ml', '50 ml', '100 ml', '200 ml', '500 ml'] as const
export const BED_SIZES = ['Twin', 'Full', 'Queen', 'King', 'California King'] as const
export const PACKS = ['Single', '2-Pack', '4-Pack', '6-Pack'] as const

/** Product lines: the first word of a name ("Trailrunner Waterproof Hiking Boot"). */
export const LINES = [
  'Trailrunner', 'Summit', 'Ridgeline', 'Metro', 'Aurora', 'Cascade', 'Everyday', 'Nomad', 'Horizon', 'Pioneer',
  'Tundra', 'Coastal', 'Voyager', 'Sierra', 'Boulder', 'Meridian', 'Eclipse', 'Harbor', 'Juniper', 'Solstice',
  'Atlas', 'Drift', 'Cobalt', 'Maple', 'Orbit', 'Canyon', 'Breeze', 'Falcon', 'Willow', 'Glacier',
] as const

export const ADJECTIVES = [
  'Waterproof', 'Lightweight', 'Classic', 'Essential', 'Premium', 'Insulated', 'Breathable', 'Everyday', 'Rugged',
  'Packable', 'Slim', 'Relaxed', 'Performance', 'Heritage', 'Ultralight', 'Compact', 'Pro', 'Soft', 'Modern', 'Vintage',
] as const

/** What a description sentence may mention. */
export interface DescriptionVars {
  name: string
  brand: string
  noun: string
  material: string
  years: number
  rating: string
  reviews: number
}

type Sentence = (v: DescriptionVars) => string

export const OPENERS: readonly Sentence[] = [
  (v) => `Made for long days and short nights, the ${v.name} keeps up with everything you throw at it.`,
  (v) => `The ${v.name} pairs ${v.material} with a clean, modern design.`,
  (v) => `Meet the ${v.name}: our take on a ${v.noun} you will reach for every day.`,
  (v) => `Built by ${v.brand}, the ${v.name} is tested in the field before it ever reaches a shelf.`,
  (v) => `The ${v.name} is the ${v.noun} our customers asked for, refined over three seasons.`,
]

export const CLOSERS: readonly Sentence[] = [
  (v) => `Backed by a ${v.years}-year ${v.brand} warranty.`,
  () => 'Ships in plastic-free, recyclable packaging.',
  () => 'Free returns within 30 days.',
  () => 'Designed in Portland and made in small batches.',
  (v) => `Rated ${v.rating} out of 5 by more than ${v.reviews} shoppers.`,
]

const APPAREL_FEATURES = [
  'A tailored fit layers easily without adding bulk.',
  'Flat-locked seams prevent chafing on the move.',
  'It holds its shape wash after wash.',
  'Reinforced stitching at stress points adds years of wear.',
] as const

export const CATALOG: readonly TopCategory[] = [
  {
    slug: 'apparel',
    brands: [...CITY_BRANDS, 'Northpeak', 'Alpenglow'],
    features: APPAREL_FEATURES,
    leaves: [
      { path: 'apparel/shirts', nouns: ['Oxford Shirt', 'Flannel Shirt', 'Crew Tee', 'Polo Shirt', 'Henley'], materials: ['Cotton', 'Linen', 'Merino Wool', 'Organic Cotton'], options: 'apparel', price: [19, 89] },
      { path: 'apparel/jackets', nouns: ['Rain Jacket', 'Down Jacket', 'Fleece Jacket', 'Bomber Jacket', 'Parka'], materials: ['Nylon', 'Recycled Polyester', 'Waxed Cotton', 'Softshell'], options: 'apparel', price: [69, 349] },
      { path: 'apparel/pants', nouns: ['Chino', 'Cargo Pant', 'Jogger', 'Hiking Pant', 'Denim Jean'], materials: ['Stretch Cotton', 'Denim', 'Ripstop', 'Twill'], options: 'apparel', price: [39, 149] },
      { path: 'apparel/hoodies', nouns: ['Hoodie', 'Zip Hoodie', 'Crewneck Sweatshirt', 'Quarter-Zip Pullover'], materials: ['Fleece', 'French Terry', 'Cotton Blend'], options: 'apparel', price: [39, 119] },
    ],
  },
  {
    slug: 'footwear',
    brands: [...OUTDOOR_BRANDS, 'Stridewell', 'Urban Thread'],
    features: [
      'A cushioned midsole softens every step.',
      'The grippy rubber outsole holds on wet rock and city streets alike.',
      'A padded collar and gusseted tongue keep grit out.',
      'Removable insoles make room for your own orthotics.',
    ],
    leaves: [
      { path: 'footwear/boots', nouns: ['Hiking Boot', 'Chelsea Boot', 'Work Boot', 'Snow Boot', 'Chukka Boot'], materials: ['Leather', 'Suede', 'Nubuck', 'Gore-Tex'], options: 'shoe', price: [89, 299] },
      { path: 'footwear/running-shoes', nouns: ['Running Shoe', 'Trail Running Shoe', 'Racing Flat', 'Road Trainer'], materials: ['Mesh', 'Knit', 'Recycled Mesh'], options: 'shoe', price: [79, 219] },
      { path: 'footwear/sandals', nouns: ['Sandal', 'Slide', 'Flip-Flop', 'Sport Sandal'], materials: ['Cork', 'Leather', 'EVA Foam'], options: 'shoe', price: [24, 119] },
      { path: 'footwear/sneakers', nouns: ['Low-Top Sneaker', 'High-Top Sneaker', 'Court Shoe', 'Slip-On'], materials: ['Canvas', 'Leather', 'Suede'], options: 'shoe', price: [49, 179] },
    ],
  },
  {
    slug: 'outdoor',
    brands: OUTDOOR_BRANDS,
    features: [
      'Every seam is taped against wind-driven rain.',
      'It packs down small enough for a weekend pack.',
      'Color-coded clips make setup quick, even in the dark.',
      'Tested from desert heat to alpine frost.',
    ],
    leaves: [
      { path: 'outdoor/tents', nouns: ['2-Person Tent', '4-Person Tent', 'Backpacking Tent', 'Tarp Shelter'], materials: ['Ripstop Nylon', 'Silnylon', 'Polyester'], options: 'color', price: [129, 499] },
      { path: 'outdoor/backpacks', nouns: ['Daypack', 'Backpack', 'Hydration Pack', 'Travel Pack', 'Sling Bag'], materials: ['Cordura', 'Recycled Nylon', 'Canvas'], options: 'color', price: [39, 249] },
      { path: 'outdoor/sleeping-bags', nouns: ['Sleeping Bag', 'Quilt', 'Sleeping Pad', 'Camp Pillow'], materials: ['Down', 'Synthetic Fill', 'Merino'], options: 'color', price: [29, 399] },
      { path: 'outdoor/camp-kitchen', nouns: ['Camp Stove', 'Cook Set', 'Insulated Bottle', 'Camp Mug'], materials: ['Titanium', 'Stainless Steel', 'Aluminum'], options: 'color', price: [14, 149] },
    ],
  },
  {
    slug: 'electronics',
    brands: TECH_BRANDS,
    features: [
      'Up to 30 hours of battery life on a single charge.',
      'USB-C fast charging gets you going in minutes.',
      'Bluetooth 5.3 pairs instantly with phones and laptops.',
      'A two-year firmware update promise keeps it current.',
    ],
    leaves: [
      { path: 'electronics/headphones', nouns: ['Wireless Headphones', 'Earbuds', 'Noise-Cancelling Headphones', 'Studio Monitor Headphones'], materials: ['Aluminum', 'Matte Polymer', 'Vegan Leather'], options: 'color', price: [29, 399] },
      { path: 'electronics/speakers', nouns: ['Bluetooth Speaker', 'Smart Speaker', 'Soundbar', 'Bookshelf Speaker'], materials: ['Fabric-Wrapped', 'Walnut', 'Aluminum'], options: 'color', price: [39, 449] },
      { path: 'electronics/storage', nouns: ['USB Flash Drive', 'Portable SSD', 'Memory Card', 'Rugged SSD'], materials: ['Aluminum', 'Rubberized'], options: 'capacity', price: [9, 229] },
      { path: 'electronics/smartwatches', nouns: ['Smartwatch', 'Fitness Tracker', 'GPS Watch'], materials: ['Titanium', 'Aluminum', 'Stainless Steel'], options: 'capacity', price: [59, 449] },
    ],
  },
  {
    slug: 'home',
    brands: HOME_BRANDS,
    features: [
      'Dishwasher safe and built to last.',
      'Its timeless look suits any room.',
      'Every piece is inspected by hand before it ships.',
      'Sourced from certified sustainable suppliers.',
    ],
    leaves: [
      { path: 'home/kitchen', nouns: ['Chef Knife', 'Cast Iron Skillet', 'Dutch Oven', 'Cutting Board', 'Pour-Over Coffee Maker'], materials: ['Carbon Steel', 'Cast Iron', 'Walnut', 'Ceramic'], options: 'color', price: [19, 299] },
      { path: 'home/bedding', nouns: ['Duvet Cover', 'Sheet Set', 'Weighted Blanket', 'Pillow'], materials: ['Percale Cotton', 'Linen', 'Bamboo', 'Sateen'], options: 'bed', price: [39, 329] },
      { path: 'home/lighting', nouns: ['Table Lamp', 'Floor Lamp', 'Pendant Light', 'Desk Lamp'], materials: ['Brass', 'Oak', 'Glass', 'Ceramic'], options: 'color', price: [29, 349] },
      { path: 'home/bath', nouns: ['Bath Towel Set', 'Bath Mat', 'Robe', 'Shower Curtain'], materials: ['Turkish Cotton', 'Waffle Cotton', 'Linen'], options: 'pack', price: [19, 149] },
    ],
  },
  {
    slug: 'sports',
    brands: SPORT_BRANDS,
    features: [
      'Sweat-wicking materials keep you dry through the last rep.',
      'Non-slip texture gives sure footing on any surface.',
      'Coaches and physiotherapists helped shape the design.',
      'Stores flat and sets up in seconds.',
    ],
    leaves: [
      { path: 'sports/yoga', nouns: ['Yoga Mat', 'Yoga Block', 'Yoga Strap', 'Meditation Cushion'], materials: ['Natural Rubber', 'Cork', 'TPE'], options: 'color', price: [14, 129] },
      { path: 'sports/cycling', nouns: ['Cycling Jersey', 'Bike Helmet', 'Cycling Gloves', 'Bike Light'], materials: ['Lycra', 'EPS Foam', 'Aluminum'], options: 'apparel', price: [24, 249] },
      { path: 'sports/fitness', nouns: ['Kettlebell', 'Resistance Band Set', 'Jump Rope', 'Adjustable Dumbbell'], materials: ['Cast Iron', 'Latex', 'Steel'], options: 'pack', price: [12, 349] },
    ],
  },
  {
    slug: 'beauty',
    brands: BEAUTY_BRANDS,
    features: [
      'Free of parabens, sulfates and synthetic fragrance.',
      'Dermatologist tested for sensitive skin.',
      'Cruelty-free and vegan.',
      'A little goes a long way: one bottle lasts months.',
    ],
    leaves: [
      { path: 'beauty/skincare', nouns: ['Face Serum', 'Moisturizer', 'Cleanser', 'Eye Cream', 'Sunscreen'], materials: ['Vitamin C', 'Hyaluronic', 'Aloe', 'Green Tea'], options: 'volume', price: [12, 89] },
      { path: 'beauty/haircare', nouns: ['Shampoo', 'Conditioner', 'Hair Oil', 'Styling Cream'], materials: ['Argan', 'Coconut', 'Rosemary', 'Keratin'], options: 'volume', price: [9, 59] },
    ],
  },
  {
    slug: 'toys',
    brands: TOY_BRANDS,
    features: [
      'Non-toxic finishes, safe for little hands.',
      'Encourages creative, screen-free play.',
      'Recommended for ages 6 and up.',
      'Pieces store neatly in the included box.',
    ],
    leaves: [
      { path: 'toys/puzzles', nouns: ['Jigsaw Puzzle', 'Puzzle Box', '3D Puzzle', 'Brain Teaser'], materials: ['Wooden', 'Cardboard', 'Bamboo'], options: 'pack', price: [9, 69] },
      { path: 'toys/building-sets', nouns: ['Building Set', 'Marble Run', 'Construction Kit', 'Robot Kit'], materials: ['Wooden', 'Magnetic', 'Recycled Plastic'], options: 'pack', price: [19, 199] },
    ],
  },
]

/** Every category path in the tree, parents before children. */
export function categoryPaths(): string[] {
  return CATALOG.flatMap((top) => [top.slug, ...top.leaves.map((leaf) => leaf.path)])
}

export function allBrands(): string[] {
  return [...new Set(CATALOG.flatMap((top) => top.brands))]
}
