import type {
  AgentAnswer,
  Assessment,
  ChemistryAgent,
  ChemistryAnswer,
  MoleculeFacts,
} from '../../../ports/llm.ts';
import { KNOWN_COMPOUNDS } from './known-compounds.ts';

const METALS = new Set(
  (
    'Li Be Na Mg Al K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In ' +
    'Sn Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi ' +
    'Po Fr Ra Ac Th Pa U Np Pu Am'
  ).split(' '),
);
const NOBLE_GASES = new Set(['He', 'Ne', 'Ar', 'Kr', 'Xe', 'Rn']);
const GASEOUS_ELEMENTS = new Set(['H2', 'N2', 'O2', 'F2', 'Cl2', 'O3']);
const HALOGENS = new Set(['F', 'Cl', 'Br', 'I']);
const TOXIC_ELEMENTS: Record<string, string> = {
  Hg: 'contains mercury: toxic',
  Pb: 'contains lead: toxic, reproductive hazard',
  Cd: 'contains cadmium: toxic, carcinogenic',
  As: 'contains arsenic: toxic, carcinogenic',
  Tl: 'contains thallium: highly toxic',
  Be: 'contains beryllium: toxic, carcinogenic',
  Cr: 'contains chromium: some oxidation states are carcinogenic',
  U: 'contains uranium: radioactive, toxic',
  Pu: 'contains plutonium: radioactive',
  Ra: 'contains radium: radioactive',
};

const a = <T>(value: T, confidence: number): Assessment<T> => ({ value, confidence });

function classify(facts: MoleculeFacts): Assessment<string> {
  const elements = Object.keys(facts.composition).map((label) =>
    label.replace(/^\[\d+/, '').replace(']', ''),
  );
  const unique = new Set(elements);
  const has = (e: string) => unique.has(e);
  const hasMetal = [...unique].some((e) => METALS.has(e));
  const hydrate = /[·.•*∙⋅]\s*\d*\s*H2O/.test(facts.formula);
  if (facts.charge !== 0) return a(facts.charge > 0 ? 'cation' : 'anion', 0.9);
  if (unique.size === 1) return a(hasMetal ? 'metal (element)' : 'element', 0.9);
  if (hasMetal && /\[[^\]]*\(/.test(facts.formula)) return a('coordination compound', 0.7);
  if (hydrate) return a(hasMetal ? 'hydrated salt' : 'hydrate', 0.8);
  if (has('C') && has('H') && !hasMetal) {
    if (unique.size === 2) return a('hydrocarbon', 0.85);
    if ([...unique].some((e) => HALOGENS.has(e)) && !has('N') && !has('O')) {
      return a('organohalogen compound', 0.7);
    }
    if (has('N')) return a('organic compound (nitrogen-containing)', 0.6);
    if (has('O')) return a('organic compound (oxygen-containing)', 0.6);
    return a('organic compound', 0.6);
  }
  if (hasMetal) return a('inorganic salt or metal compound', 0.6);
  if (has('H') && (has('O') || [...unique].some((e) => HALOGENS.has(e)))) {
    return a('inorganic acid or hydride', 0.4);
  }
  return a('inorganic molecular compound', 0.4);
}

function physicalState(
  facts: MoleculeFacts,
  compoundClass: string,
): ChemistryAnswer['physical_state'] {
  const symbols = Object.keys(facts.composition);
  if (symbols.length === 1 && NOBLE_GASES.has(symbols[0] ?? '')) return a('gas', 0.9);
  if (GASEOUS_ELEMENTS.has(facts.hill)) return a('gas', 0.9);
  if (/salt|metal|coordination|hydrate/.test(compoundClass)) return a('solid', 0.7);
  if (facts.charge !== 0) return a('unknown', 0.3);
  // Small molecules boil low: a rough guess from the molar mass.
  if (facts.averageMass < 45) return a('gas', 0.4);
  if (facts.averageMass < 160) return a('liquid', 0.3);
  return a('solid', 0.4);
}

function hazards(facts: MoleculeFacts): Assessment<string>[] {
  const found: Assessment<string>[] = [];
  for (const symbol of Object.keys(facts.composition)) {
    const hazard = TOXIC_ELEMENTS[symbol.replace(/^\[\d+/, '').replace(']', '')];
    if (hazard) found.push(a(hazard, 0.7));
  }
  return found;
}

function notable(facts: MoleculeFacts): Assessment<string>[] {
  const notes: Assessment<string>[] = [];
  if (/[·.•*∙⋅]\s*\d*\s*H2O/.test(facts.formula)) {
    notes.push(a('hydrate: loses its water of crystallisation on heating', 0.8));
  }
  if (Object.keys(facts.composition).some((label) => label.startsWith('['))) {
    notes.push(a('isotopically labelled', 1));
  }
  const s = facts.structure;
  if (s) {
    notes.push(
      a(
        s.lipinskiViolations <= 1
          ? `drug-like by Lipinski's rule of five (${s.lipinskiViolations} violations)`
          : `outside Lipinski's rule of five (${s.lipinskiViolations} violations)`,
        0.9,
      ),
    );
    if (!s.formulaMatches) {
      notes.push(a(`the structure's formula ${s.formula} differs from the submitted one`, 1));
    }
  }
  return notes;
}

/**
 * The offline chemistry agent: deterministic answers from the computed facts, a table of
 * well-known compounds and simple heuristics (class from the elements, state from the mass),
 * with confidences that say how much each guess is worth. It needs no key and no network, so
 * it is Herald's default agent and the fallback when the LLM provider is unavailable.
 */
export class OfflineChemistryAgent implements ChemistryAgent {
  readonly name = 'offline';
  readonly model = 'herald-offline-1';

  async describe(facts: MoleculeFacts): Promise<AgentAnswer> {
    const known = facts.charge === 0 ? KNOWN_COMPOUNDS.get(facts.hill) : undefined;
    const compoundClass = known ? a(known.class, 0.95) : classify(facts);
    const answer: ChemistryAnswer = {
      common_name: known ? a(known.name, 0.9) : a(null, 0),
      compound_class: compoundClass,
      physical_state: known ? a(known.state, 0.95) : physicalState(facts, compoundClass.value),
      hazards: known ? known.hazards.map((h) => a(h, 0.9)) : hazards(facts),
      notable_properties: notable(facts),
      molar_mass: facts.averageMass,
    };
    return { answer, model: this.model, usage: undefined };
  }
}
