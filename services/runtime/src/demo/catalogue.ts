// The demo catalogue a fresh shop starts with: categories, products and their
// opening stock. Catalog seeds the products and inventory seeds the stock from
// this one list (ids are fixed so both agree), each idempotently on start-up;
// neither ever overwrites data an operator has changed. It lives in the
// runtime package because that is what every image holds besides the
// service's own folder: one service importing another's sources would build
// here and fail in its image, whose build context has only its own.

export interface SeedCategory {
  id: string;
  name: string;
  description: string;
}

export interface SeedProduct {
  id: string;
  sku: string;
  name: string;
  description: string;
  categoryId: string;
  /** EUR cents. */
  priceMinor: number;
  /** Units in stock when the shop first starts. */
  openingStock: number;
}

export const SEED_CURRENCY = "EUR";

export const seedCategories: readonly SeedCategory[] = [
  { id: "books", name: "Books", description: "Reading for cooks, gardeners and engineers." },
  { id: "garden", name: "Garden", description: "Tools and seeds for growing things." },
  { id: "home", name: "Home", description: "Things that make a room feel lived in." },
  { id: "kitchen", name: "Kitchen", description: "Cookware and coffee gear." },
  { id: "outdoors", name: "Outdoors", description: "Gear for walking, camping and sleeping under the sky." },
  { id: "toys", name: "Toys and games", description: "Play for every age." },
];

export const seedProducts: readonly SeedProduct[] = [
  {
    id: "019b76da-a800-7064-9c80-317fa3b1799d",
    sku: "KIT-KETTLE-01",
    name: "Stovetop kettle",
    description: "Brushed steel kettle that whistles when the water boils. 1.7 litres.",
    categoryId: "kitchen",
    priceMinor: 3499,
    openingStock: 25,
  },
  {
    id: "019b76da-a801-73e9-8668-5257bdd640fb",
    sku: "KIT-PRESS-01",
    name: "French press",
    description: "Eight-cup glass French press with a double stainless filter for a clean brew.",
    categoryId: "kitchen",
    priceMinor: 2799,
    openingStock: 30,
  },
  {
    id: "019b76da-a802-7bc8-a3b8-c1e9392456de",
    sku: "KIT-KNIFE-01",
    name: "Chef's knife",
    description: "20 cm chef's knife forged from one piece of carbon steel; holds an edge for months.",
    categoryId: "kitchen",
    priceMinor: 6900,
    openingStock: 12,
  },
  {
    id: "019b76da-a803-7bda-ad3c-2d6d1a3d1fa7",
    sku: "KIT-BOARD-01",
    name: "Oak cutting board",
    description: "End-grain oak board, oiled by hand, kind to knife edges.",
    categoryId: "kitchen",
    priceMinor: 4500,
    openingStock: 18,
  },
  {
    id: "019b76da-a804-7166-8b9d-2434e465e150",
    sku: "KIT-PAN-01",
    name: "Cast iron skillet",
    description: "Pre-seasoned 26 cm cast iron skillet that goes from stove to oven.",
    categoryId: "kitchen",
    priceMinor: 3900,
    openingStock: 20,
  },
  {
    id: "019b76da-a805-7081-ac03-1199972a8469",
    sku: "KIT-GRIND-01",
    name: "Burr coffee grinder",
    description: "Hand-cranked conical burr grinder with 30 grind settings.",
    categoryId: "kitchen",
    priceMinor: 5400,
    openingStock: 10,
  },
  {
    id: "019b76da-a806-737c-97fc-695a07a0ca6e",
    sku: "KIT-TEAPOT-01",
    name: "Ceramic teapot",
    description: "Glazed stoneware teapot with a removable infuser. 900 ml.",
    categoryId: "kitchen",
    priceMinor: 2600,
    openingStock: 16,
  },
  {
    id: "019b76da-a807-79a2-815e-f6d13b8faa18",
    sku: "GAR-TROWEL-01",
    name: "Hand trowel",
    description: "Stainless steel trowel with a depth scale and an ash handle.",
    categoryId: "garden",
    priceMinor: 1499,
    openingStock: 40,
  },
  {
    id: "019b76da-a808-732e-8fad-c1a606cb0fb3",
    sku: "GAR-HOSE-01",
    name: "Expanding garden hose",
    description: "15 metre hose that shrinks back when the water is off.",
    categoryId: "garden",
    priceMinor: 2999,
    openingStock: 22,
  },
  {
    id: "019b76da-a809-7b3a-a65e-d389b74d0fb1",
    sku: "GAR-SEEDS-01",
    name: "Herb seed collection",
    description: "Basil, parsley, chives, coriander and dill seeds for a windowsill garden.",
    categoryId: "garden",
    priceMinor: 899,
    openingStock: 60,
  },
  {
    id: "019b76da-a80a-7385-ab65-a6a48b8148f6",
    sku: "GAR-PRUNER-01",
    name: "Bypass pruners",
    description: "Sharp bypass secateurs for clean cuts on stems up to 2 cm.",
    categoryId: "garden",
    priceMinor: 2299,
    openingStock: 25,
  },
  {
    id: "019b76da-a80b-7472-96da-1dac72ff5d2a",
    sku: "GAR-CAN-01",
    name: "Watering can",
    description: "Galvanised 5 litre watering can with a brass rose.",
    categoryId: "garden",
    priceMinor: 3200,
    openingStock: 14,
  },
  {
    id: "019b76da-a80c-701b-9e8a-774bcf36d58b",
    sku: "GAR-GLOVES-01",
    name: "Gardening gloves",
    description: "Breathable gloves with nitrile palms that keep thorns out.",
    categoryId: "garden",
    priceMinor: 1199,
    openingStock: 50,
  },
  {
    id: "019b76da-a80d-728f-8e4a-2bbdc241330b",
    sku: "BOO-BREAD-01",
    name: "The Bread Book",
    description: "A year of baking: sourdough, rye and flatbreads explained step by step.",
    categoryId: "books",
    priceMinor: 2400,
    openingStock: 35,
  },
  {
    id: "019b76da-a80e-7571-ac30-7511b2b9437a",
    sku: "BOO-GARDEN-01",
    name: "Small Space Gardening",
    description: "Grow vegetables and herbs on balconies, patios and windowsills.",
    categoryId: "books",
    priceMinor: 1850,
    openingStock: 28,
  },
  {
    id: "019b76da-a80f-7370-a7cd-813047229389",
    sku: "BOO-SYSTEMS-01",
    name: "Designing Distributed Systems",
    description: "Patterns for services that fail gracefully: sagas, outboxes and idempotent consumers.",
    categoryId: "books",
    priceMinor: 4200,
    openingStock: 20,
  },
  {
    id: "019b76da-a810-7563-8374-59eef50bea63",
    sku: "BOO-MAPS-01",
    name: "Atlas of Remote Islands",
    description: "Fifty islands you will probably never visit, beautifully mapped.",
    categoryId: "books",
    priceMinor: 2999,
    openingStock: 15,
  },
  {
    id: "019b76da-a811-7614-97be-31111a2a73ed",
    sku: "BOO-POEMS-01",
    name: "Collected Poems",
    description: "Poems about rivers, kitchens and long train journeys.",
    categoryId: "books",
    priceMinor: 1600,
    openingStock: 24,
  },
  {
    id: "019b76da-a812-7d8d-9be6-128e18c26797",
    sku: "OUT-TENT-01",
    name: "Two-person tent",
    description: "Lightweight three-season tent that pitches in five minutes.",
    categoryId: "outdoors",
    priceMinor: 18900,
    openingStock: 8,
  },
  {
    id: "019b76da-a813-743a-9a8d-ca03580d7b71",
    sku: "OUT-BOTTLE-01",
    name: "Insulated water bottle",
    description: "Keeps drinks cold for 24 hours or hot for 12. 750 ml.",
    categoryId: "outdoors",
    priceMinor: 2700,
    openingStock: 45,
  },
  {
    id: "019b76da-a814-7bac-8b1f-9163ce9ff57f",
    sku: "OUT-LAMP-01",
    name: "Head torch",
    description: "Rechargeable 300 lumen head torch with a red night mode.",
    categoryId: "outdoors",
    priceMinor: 3400,
    openingStock: 30,
  },
  {
    id: "019b76da-a815-71fe-8946-3e85759cde66",
    sku: "OUT-STOVE-01",
    name: "Camping stove",
    description: "Compact gas stove that boils a litre of water in four minutes.",
    categoryId: "outdoors",
    priceMinor: 4900,
    openingStock: 12,
  },
  {
    id: "019b76da-a816-760f-ac1b-8ca1f91e1d4c",
    sku: "OUT-BAG-01",
    name: "Down sleeping bag",
    description: "Comfortable to 2 degrees Celsius and packs to the size of a melon.",
    categoryId: "outdoors",
    priceMinor: 15900,
    openingStock: 6,
  },
  {
    id: "019b76da-a817-74b2-8d52-88f1142c3fe8",
    sku: "OUT-PACK-01",
    name: "Daypack",
    description: "25 litre backpack with a rain cover and a padded laptop sleeve.",
    categoryId: "outdoors",
    priceMinor: 6500,
    openingStock: 15,
  },
  {
    id: "019b76da-a818-79e6-a0ee-89aed453dd32",
    sku: "HOM-BLANKET-01",
    name: "Wool throw blanket",
    description: "Soft lambswool blanket woven in a herringbone pattern.",
    categoryId: "home",
    priceMinor: 7900,
    openingStock: 10,
  },
  {
    id: "019b76da-a819-75cb-9c98-d2c1e2acf72f",
    sku: "HOM-CANDLE-01",
    name: "Beeswax candle set",
    description: "Three hand-poured beeswax candles that burn clean for 40 hours each.",
    categoryId: "home",
    priceMinor: 2100,
    openingStock: 40,
  },
  {
    id: "019b76da-a81a-7b44-b139-d32c93cd59bf",
    sku: "HOM-LAMP-01",
    name: "Reading lamp",
    description: "Adjustable brass desk lamp with a warm dimmable LED.",
    categoryId: "home",
    priceMinor: 8900,
    openingStock: 9,
  },
  {
    id: "019b76da-a81b-7a94-8bbb-259911ce5dd2",
    sku: "HOM-MUG-01",
    name: "Stoneware mug",
    description: "Hand-thrown 350 ml mug with a speckled glaze. Dishwasher safe.",
    categoryId: "home",
    priceMinor: 1800,
    openingStock: 50,
  },
  {
    id: "019b76da-a81c-74a3-85e7-ce8a3a578a8e",
    sku: "HOM-CLOCK-01",
    name: "Wall clock",
    description: "Silent sweep wall clock with an oak frame. 30 cm.",
    categoryId: "home",
    priceMinor: 4400,
    openingStock: 11,
  },
  {
    id: "019b76da-a81d-7dac-946d-3f31fc377a4c",
    sku: "HOM-PLANT-01",
    name: "Snake plant",
    description: "Hardy indoor plant in a 12 cm ceramic pot; thrives on neglect.",
    categoryId: "home",
    priceMinor: 2500,
    openingStock: 20,
  },
  {
    id: "019b76da-a81e-719f-9dd1-dfb23b982ef8",
    sku: "TOY-PUZZLE-01",
    name: "1000-piece puzzle",
    description: "A jigsaw of a crowded harbour at dusk.",
    categoryId: "toys",
    priceMinor: 1999,
    openingStock: 25,
  },
  {
    id: "019b76da-a81f-7741-8729-4739614ff3d7",
    sku: "TOY-BLOCKS-01",
    name: "Wooden building blocks",
    description: "Fifty beech blocks in natural and painted finishes.",
    categoryId: "toys",
    priceMinor: 3600,
    openingStock: 18,
  },
  {
    id: "019b76da-a820-75d7-9588-42dea2bc372f",
    sku: "TOY-KITE-01",
    name: "Stunt kite",
    description: "Dual-line kite for beginners, with lines and a bag.",
    categoryId: "toys",
    priceMinor: 4200,
    openingStock: 10,
  },
  {
    id: "019b76da-a821-75ad-9ec4-2e0829a3b2e9",
    sku: "TOY-CHESS-01",
    name: "Travel chess set",
    description: "Magnetic folding chess board with wooden pieces.",
    categoryId: "toys",
    priceMinor: 2800,
    openingStock: 16,
  },
];

/**
 * The picture the web app shows for a seeded product: its own drawing,
 * services/gateway/web/public/images/products/<sku in lower case>.svg
 * (a test checks that every seeded product has one, and that they differ).
 */
export function seedImageUrl(product: Pick<SeedProduct, "sku">): string {
  return `/images/products/${product.sku.toLowerCase()}.svg`;
}
