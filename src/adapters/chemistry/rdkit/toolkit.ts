import { ErrorCodes, HeraldError } from '../../../errors.ts';
import type { StructureDescriptors, StructureToolkit } from '../../../ports/llm.ts';

interface RdkitMol {
  is_valid(): boolean;
  get_smiles(): string;
  get_inchi(): string;
  get_descriptors(): string;
  delete(): void;
}

interface RdkitModule {
  get_mol(input: string): RdkitMol | null;
  get_inchikey_for_inchi(inchi: string): string;
  version(): string;
}

/** Why a structure has no descriptors: the SMILES is unreadable (VALIDATION, not retryable). */
export class StructureError extends HeraldError {
  constructor(message: string) {
    super(ErrorCodes.VALIDATION, message, { details: { field: 'data.smiles' } });
    this.name = 'StructureError';
  }
}

let loading: Promise<RdkitModule> | undefined;

/** Loads RDKit's WASM once, on first use (≈150 ms, ~30 MB), shared by every toolkit. */
function loadRdkit(): Promise<RdkitModule> {
  loading ??= import('@rdkit/rdkit').then((module) =>
    (module.default as unknown as () => Promise<RdkitModule>)(),
  );
  return loading;
}

const round = (value: number, decimals = 3): number => {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
};

/**
 * Structure descriptors from RDKit (MinimalLib, WebAssembly): canonical SMILES, InChI and
 * InChIKey, the structure's formula (InChI formula layer) checked against the submitted one,
 * Crippen logP, TPSA, Lipinski H-bond donors/acceptors, rotatable bonds and rule-of-five
 * violations (MW > 500, logP > 5, HBD > 5, HBA > 10).
 */
export class RdkitToolkit implements StructureToolkit {
  async describe(smiles: string, hill: string): Promise<StructureDescriptors> {
    const rdkit = await loadRdkit();
    const mol = rdkit.get_mol(smiles);
    if (mol === null || !mol.is_valid()) {
      mol?.delete();
      throw new StructureError(`SMILES "${smiles.slice(0, 100)}" cannot be parsed`);
    }
    try {
      const inchi = mol.get_inchi();
      const d = JSON.parse(mol.get_descriptors()) as Record<string, number>;
      const formula = /^InChI=1S?\/([^/]+)/.exec(inchi)?.[1] ?? '';
      const mw = d.amw ?? 0;
      const logP = d.CrippenClogP ?? 0;
      const hbd = d.lipinskiHBD ?? 0;
      const hba = d.lipinskiHBA ?? 0;
      const lipinskiViolations =
        Number(mw > 500) + Number(logP > 5) + Number(hbd > 5) + Number(hba > 10);
      return {
        canonicalSmiles: mol.get_smiles(),
        inchi,
        inchiKey: inchi === '' ? '' : rdkit.get_inchikey_for_inchi(inchi),
        formula,
        formulaMatches: formula === hill,
        averageMass: round(mw, 4),
        logP: round(logP),
        tpsa: round(d.tpsa ?? 0),
        hbd,
        hba,
        rotatableBonds: d.NumRotatableBonds ?? 0,
        heavyAtoms: d.NumHeavyAtoms ?? 0,
        lipinskiViolations,
      };
    } finally {
      mol.delete();
    }
  }
}
