/**
 * Element and isotope reference data for formula analysis.
 *
 * Atomic weights: CIAAW/IUPAC standard atomic weights (2021 table, with the later Gd, Lu and Zr
 * revisions). Where IUPAC gives an interval (H, Li, B, C, N, O, Mg, Si, S, Cl, Ar, Br, Tl, Pb) the
 * conventional single value is used, which is what chemists and suppliers print. Elements without
 * a standard atomic weight carry the mass number of their longest-lived known isotope, the value
 * periodic tables print in brackets (Tc [97]); they are flagged `bracketed`.
 *
 * Exact masses: NIST "Atomic Weights and Isotopic Compositions" (AME-based relative atomic masses)
 * of the most abundant isotope, or of the bracketed isotope for elements with no stable one.
 */

export interface ChemicalElement {
  readonly symbol: string;
  readonly atomicNumber: number;
  /** Standard atomic weight in g/mol; the bracketed mass number when `bracketed`. */
  readonly atomicWeight: number;
  /** True when the element has no standard atomic weight and `atomicWeight` is a mass number. */
  readonly bracketed: boolean;
  /** Mass number of the isotope behind `monoisotopicMass`. */
  readonly massNumber: number;
  /** Exact mass (u) of the most abundant isotope (or the bracketed isotope). */
  readonly monoisotopicMass: number;
}

export interface Isotope {
  /** Symbol of the element the isotope belongs to (`H` for deuterium). */
  readonly symbol: string;
  readonly massNumber: number;
  /** Exact mass in u. */
  readonly exactMass: number;
}

// [symbol, standard atomic weight or null when bracketed, mass number, exact mass]; Z = index + 1.
type ElementRow = readonly [string, number | null, number, number];

const ELEMENT_ROWS: readonly ElementRow[] = [
  ['H', 1.008, 1, 1.00782503223],
  ['He', 4.002602, 4, 4.00260325413],
  ['Li', 6.94, 7, 7.0160034366],
  ['Be', 9.0121831, 9, 9.012183065],
  ['B', 10.81, 11, 11.00930536],
  ['C', 12.011, 12, 12],
  ['N', 14.007, 14, 14.00307400443],
  ['O', 15.999, 16, 15.99491461957],
  ['F', 18.998403162, 19, 18.99840316273],
  ['Ne', 20.1797, 20, 19.9924401762],
  ['Na', 22.98976928, 23, 22.989769282],
  ['Mg', 24.305, 24, 23.985041697],
  ['Al', 26.9815384, 27, 26.98153853],
  ['Si', 28.085, 28, 27.97692653465],
  ['P', 30.973761998, 31, 30.97376199842],
  ['S', 32.06, 32, 31.9720711744],
  ['Cl', 35.45, 35, 34.968852682],
  ['Ar', 39.95, 40, 39.9623831237],
  ['K', 39.0983, 39, 38.9637064864],
  ['Ca', 40.078, 40, 39.962590863],
  ['Sc', 44.955907, 45, 44.95590828],
  ['Ti', 47.867, 48, 47.94794198],
  ['V', 50.9415, 51, 50.94395704],
  ['Cr', 51.9961, 52, 51.94050623],
  ['Mn', 54.938043, 55, 54.93804391],
  ['Fe', 55.845, 56, 55.93493633],
  ['Co', 58.933194, 59, 58.93319429],
  ['Ni', 58.6934, 58, 57.93534241],
  ['Cu', 63.546, 63, 62.92959772],
  ['Zn', 65.38, 64, 63.92914201],
  ['Ga', 69.723, 69, 68.9255735],
  ['Ge', 72.63, 74, 73.921177761],
  ['As', 74.921595, 75, 74.92159457],
  ['Se', 78.971, 80, 79.9165218],
  ['Br', 79.904, 79, 78.9183376],
  ['Kr', 83.798, 84, 83.9114977282],
  ['Rb', 85.4678, 85, 84.9117897379],
  ['Sr', 87.62, 88, 87.9056125],
  ['Y', 88.905838, 89, 88.9058403],
  ['Zr', 91.222, 90, 89.9046977],
  ['Nb', 92.90637, 93, 92.906373],
  ['Mo', 95.95, 98, 97.90540482],
  // 97Tc (4.21 Myr) narrowly outlives 98Tc (4.2 Myr); some tables print [98].
  ['Tc', null, 97, 96.9063667],
  ['Ru', 101.07, 102, 101.9043441],
  ['Rh', 102.90549, 103, 102.905498],
  ['Pd', 106.42, 106, 105.9034804],
  ['Ag', 107.8682, 107, 106.9050916],
  ['Cd', 112.414, 114, 113.90336509],
  ['In', 114.818, 115, 114.903878776],
  ['Sn', 118.71, 120, 119.90220163],
  ['Sb', 121.76, 121, 120.903812],
  ['Te', 127.6, 130, 129.906222748],
  ['I', 126.90447, 127, 126.9044719],
  ['Xe', 131.293, 132, 131.9041550856],
  ['Cs', 132.90545196, 133, 132.905451961],
  ['Ba', 137.327, 138, 137.905247],
  ['La', 138.90547, 139, 138.9063563],
  ['Ce', 140.116, 140, 139.9054431],
  ['Pr', 140.90766, 141, 140.9076576],
  ['Nd', 144.242, 142, 141.907729],
  ['Pm', null, 145, 144.9127559],
  ['Sm', 150.36, 152, 151.9197397],
  ['Eu', 151.964, 153, 152.921238],
  ['Gd', 157.249, 158, 157.9241123],
  ['Tb', 158.925354, 159, 158.9253547],
  ['Dy', 162.5, 164, 163.9291819],
  ['Ho', 164.930329, 165, 164.9303288],
  ['Er', 167.259, 166, 165.9302995],
  ['Tm', 168.934219, 169, 168.9342179],
  ['Yb', 173.045, 174, 173.9388664],
  ['Lu', 174.96669, 175, 174.9407752],
  ['Hf', 178.486, 180, 179.946557],
  ['Ta', 180.94788, 181, 180.9479958],
  ['W', 183.84, 184, 183.95093092],
  ['Re', 186.207, 187, 186.9557501],
  ['Os', 190.23, 192, 191.961477],
  ['Ir', 192.217, 193, 192.9629216],
  ['Pt', 195.084, 195, 194.9647917],
  ['Au', 196.96657, 197, 196.96656879],
  ['Hg', 200.592, 202, 201.9706434],
  ['Tl', 204.38, 205, 204.9744278],
  ['Pb', 207.2, 208, 207.9766525],
  ['Bi', 208.9804, 209, 208.9803991],
  ['Po', null, 209, 208.9824308],
  ['At', null, 210, 209.9871479],
  ['Rn', null, 222, 222.0175782],
  ['Fr', null, 223, 223.019736],
  ['Ra', null, 226, 226.0254103],
  ['Ac', null, 227, 227.0277523],
  // Th, Pa and U have no stable isotope but do have standard atomic weights (natural abundance).
  ['Th', 232.0377, 232, 232.0380558],
  ['Pa', 231.03588, 231, 231.0358842],
  ['U', 238.02891, 238, 238.0507884],
  ['Np', null, 237, 237.0481736],
  ['Pu', null, 244, 244.0642053],
  ['Am', null, 243, 243.0613813],
  ['Cm', null, 247, 247.0703541],
  ['Bk', null, 247, 247.0703073],
  ['Cf', null, 251, 251.0795886],
  ['Es', null, 252, 252.08298],
  ['Fm', null, 257, 257.0951061],
  ['Md', null, 258, 258.0984315],
  ['No', null, 259, 259.10103],
  ['Lr', null, 266, 266.11983],
  ['Rf', null, 267, 267.12179],
  ['Db', null, 268, 268.12567],
  ['Sg', null, 269, 269.12863],
  ['Bh', null, 270, 270.13336],
  ['Hs', null, 269, 269.13375],
  ['Mt', null, 278, 278.15631],
  ['Ds', null, 281, 281.16451],
  ['Rg', null, 282, 282.16912],
  ['Cn', null, 285, 285.17712],
  ['Nh', null, 286, 286.18221],
  ['Fl', null, 289, 289.19042],
  ['Mc', null, 290, 290.19598],
  ['Lv', null, 293, 293.20449],
  ['Ts', null, 294, 294.21046],
  ['Og', null, 294, 294.21392],
];

/** All elements H (Z = 1) to Og (Z = 118), ordered by atomic number. */
export const ELEMENTS: readonly ChemicalElement[] = Object.freeze(
  ELEMENT_ROWS.map(([symbol, weight, massNumber, monoisotopicMass], index) =>
    Object.freeze({
      symbol,
      atomicNumber: index + 1,
      atomicWeight: weight ?? massNumber,
      bracketed: weight === null,
      massNumber,
      monoisotopicMass,
    }),
  ),
);

const BY_SYMBOL: ReadonlyMap<string, ChemicalElement> = new Map(
  ELEMENTS.map((element) => [element.symbol, element]),
);

/**
 * Looks an element up by its case-sensitive symbol.
 *
 * @example getElement('Co')?.atomicWeight // 58.933194; getElement('CO') === undefined
 */
export function getElement(symbol: string): ChemicalElement | undefined {
  return BY_SYMBOL.get(symbol);
}

/**
 * Isotopes chemists label explicitly (NIST exact masses). The most abundant isotope of every
 * element is also accepted by `getIsotope` (e.g. `[12C]`), so it is not repeated here.
 */
export const ISOTOPES: readonly Isotope[] = Object.freeze(
  (
    [
      ['H', 2, 2.01410177812],
      ['H', 3, 3.0160492779],
      ['C', 13, 13.00335483507],
      ['C', 14, 14.0032419884],
      ['N', 15, 15.00010889888],
      ['O', 17, 16.9991317565],
      ['O', 18, 17.99915961286],
      ['S', 33, 32.9714589098],
      ['S', 34, 33.967867004],
      ['Cl', 37, 36.965902602],
      ['Br', 81, 80.9162897],
    ] as const
  ).map(([symbol, massNumber, exactMass]) => Object.freeze({ symbol, massNumber, exactMass })),
);

/** Single-letter isotope symbols: D (deuterium, 2H) and T (tritium, 3H). */
export const ISOTOPE_ALIASES: Readonly<Record<string, { symbol: string; massNumber: number }>> =
  Object.freeze({
    D: Object.freeze({ symbol: 'H', massNumber: 2 }),
    T: Object.freeze({ symbol: 'H', massNumber: 3 }),
  });

const ISOTOPES_BY_KEY: ReadonlyMap<string, Isotope> = new Map(
  ISOTOPES.map((isotope) => [`${isotope.massNumber}${isotope.symbol}`, isotope]),
);

/**
 * Resolves an explicit isotope: one from `ISOTOPES`, or the principal isotope of any element.
 *
 * @example getIsotope('C', 13)?.exactMass // 13.00335483507; getIsotope('C', 99) === undefined
 */
export function getIsotope(symbol: string, massNumber: number): Isotope | undefined {
  const listed = ISOTOPES_BY_KEY.get(`${massNumber}${symbol}`);
  if (listed !== undefined) return listed;
  const element = BY_SYMBOL.get(symbol);
  if (element === undefined || element.massNumber !== massNumber) return undefined;
  return { symbol, massNumber, exactMass: element.monoisotopicMass };
}

/**
 * The label used for an explicit isotope in Hill formulas and composition keys.
 *
 * @example isotopeLabel('C', 13) // '[13C]'
 */
export function isotopeLabel(symbol: string, massNumber: number): string {
  return `[${massNumber}${symbol}]`;
}
