/**
 * Well-known compounds by Hill formula (a formula names one compound only for these common
 * cases; isomers are why the offline agent's other answers carry low confidence).
 */
export interface KnownCompound {
  name: string;
  class: string;
  state: 'solid' | 'liquid' | 'gas';
  hazards: string[];
}

const entries: Array<[string, KnownCompound]> = [
  ['H2O', { name: 'water', class: 'inorganic oxide', state: 'liquid', hazards: [] }],
  [
    'CO2',
    {
      name: 'carbon dioxide',
      class: 'inorganic oxide',
      state: 'gas',
      hazards: ['asphyxiant in high concentration'],
    },
  ],
  [
    'CO',
    {
      name: 'carbon monoxide',
      class: 'inorganic oxide',
      state: 'gas',
      hazards: ['toxic if inhaled', 'flammable gas'],
    },
  ],
  [
    'CH4',
    {
      name: 'methane',
      class: 'alkane (hydrocarbon)',
      state: 'gas',
      hazards: ['extremely flammable gas'],
    },
  ],
  [
    'C2H6',
    {
      name: 'ethane',
      class: 'alkane (hydrocarbon)',
      state: 'gas',
      hazards: ['extremely flammable gas'],
    },
  ],
  [
    'C3H8',
    {
      name: 'propane',
      class: 'alkane (hydrocarbon)',
      state: 'gas',
      hazards: ['extremely flammable gas'],
    },
  ],
  [
    'C6H6',
    {
      name: 'benzene',
      class: 'aromatic hydrocarbon',
      state: 'liquid',
      hazards: ['highly flammable', 'carcinogenic'],
    },
  ],
  [
    'CH4O',
    {
      name: 'methanol',
      class: 'alcohol',
      state: 'liquid',
      hazards: ['highly flammable', 'toxic if swallowed'],
    },
  ],
  ['C2H6O', { name: 'ethanol', class: 'alcohol', state: 'liquid', hazards: ['highly flammable'] }],
  [
    'C3H6O',
    {
      name: 'acetone',
      class: 'ketone',
      state: 'liquid',
      hazards: ['highly flammable', 'eye irritant'],
    },
  ],
  [
    'C2H4O2',
    {
      name: 'acetic acid',
      class: 'carboxylic acid',
      state: 'liquid',
      hazards: ['flammable', 'causes severe skin burns'],
    },
  ],
  [
    'C6H12O6',
    { name: 'glucose', class: 'monosaccharide (carbohydrate)', state: 'solid', hazards: [] },
  ],
  [
    'C12H22O11',
    { name: 'sucrose', class: 'disaccharide (carbohydrate)', state: 'solid', hazards: [] },
  ],
  [
    'C8H10N4O2',
    {
      name: 'caffeine',
      class: 'purine alkaloid',
      state: 'solid',
      hazards: ['harmful if swallowed'],
    },
  ],
  [
    'C9H8O4',
    {
      name: 'aspirin (acetylsalicylic acid)',
      class: 'salicylate ester (carboxylic acid)',
      state: 'solid',
      hazards: ['harmful if swallowed'],
    },
  ],
  [
    'C8H9NO2',
    {
      name: 'paracetamol (acetaminophen)',
      class: 'anilide (amide)',
      state: 'solid',
      hazards: ['harmful if swallowed'],
    },
  ],
  [
    'CHCl3',
    {
      name: 'chloroform',
      class: 'organohalogen compound',
      state: 'liquid',
      hazards: ['harmful if swallowed', 'suspected carcinogen'],
    },
  ],
  ['ClNa', { name: 'sodium chloride', class: 'ionic salt', state: 'solid', hazards: [] }],
  [
    'CuH10O9S',
    {
      name: 'copper(II) sulfate pentahydrate',
      class: 'hydrated salt',
      state: 'solid',
      hazards: ['harmful if swallowed', 'very toxic to aquatic life'],
    },
  ],
  [
    'CuO4S',
    {
      name: 'copper(II) sulfate',
      class: 'ionic salt',
      state: 'solid',
      hazards: ['harmful if swallowed', 'very toxic to aquatic life'],
    },
  ],
  [
    'CaH2O2',
    {
      name: 'calcium hydroxide',
      class: 'inorganic base (hydroxide)',
      state: 'solid',
      hazards: ['causes serious eye damage'],
    },
  ],
  [
    'H2O4S',
    {
      name: 'sulfuric acid',
      class: 'mineral acid',
      state: 'liquid',
      hazards: ['causes severe skin burns'],
    },
  ],
  [
    'HNO3',
    {
      name: 'nitric acid',
      class: 'mineral acid',
      state: 'liquid',
      hazards: ['oxidiser', 'causes severe skin burns'],
    },
  ],
  [
    'ClH',
    {
      name: 'hydrogen chloride',
      class: 'mineral acid',
      state: 'gas',
      hazards: ['toxic if inhaled', 'causes severe skin burns'],
    },
  ],
  [
    'H3N',
    {
      name: 'ammonia',
      class: 'inorganic base',
      state: 'gas',
      hazards: ['toxic if inhaled', 'causes severe skin burns'],
    },
  ],
  [
    'H2O2',
    {
      name: 'hydrogen peroxide',
      class: 'inorganic peroxide',
      state: 'liquid',
      hazards: ['oxidiser', 'causes serious eye damage'],
    },
  ],
  [
    'HNaO',
    {
      name: 'sodium hydroxide',
      class: 'inorganic base (hydroxide)',
      state: 'solid',
      hazards: ['causes severe skin burns'],
    },
  ],
  ['CCaO3', { name: 'calcium carbonate', class: 'carbonate salt', state: 'solid', hazards: [] }],
  ['CHNaO3', { name: 'sodium bicarbonate', class: 'carbonate salt', state: 'solid', hazards: [] }],
  [
    'H2',
    {
      name: 'hydrogen',
      class: 'element (diatomic gas)',
      state: 'gas',
      hazards: ['extremely flammable gas'],
    },
  ],
  [
    'N2',
    { name: 'nitrogen', class: 'element (diatomic gas)', state: 'gas', hazards: ['asphyxiant'] },
  ],
  ['O2', { name: 'oxygen', class: 'element (diatomic gas)', state: 'gas', hazards: ['oxidiser'] }],
  [
    'Cl2',
    {
      name: 'chlorine',
      class: 'element (diatomic gas)',
      state: 'gas',
      hazards: ['toxic if inhaled', 'oxidiser'],
    },
  ],
];

export const KNOWN_COMPOUNDS: ReadonlyMap<string, KnownCompound> = new Map(entries);
