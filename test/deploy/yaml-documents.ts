import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

/**
 * Every document of a YAML file (`---`-separated), as plain values, with the `yaml` package.
 * A document with an error (a duplicate key, a broken indent) throws rather than being misread.
 */
export function parseYamlDocuments(source: string): unknown[] {
  return parseAllDocuments(source)
    .map((document) => {
      const [problem] = [...document.errors, ...document.warnings];
      if (problem) throw problem;
      return document.toJS() as unknown;
    })
    .filter((value) => value !== null && value !== undefined);
}

const MODELS = {
  'apps/v1 Deployment': Deployment,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'v1 ConfigMap': ConfigMap,
  'v1 Secret': Secret,
  'v1 Service': Service,
} as const;

/**
 * A manifest as the kubernetes-models class of its apiVersion and kind, whose validate() checks
 * it against the Kubernetes API's schema (types, required fields). Throws for a kind Keel's
 * manifests don't use, so a new kind gets a model here before it ships unchecked.
 */
export function kubernetesModel(object: unknown): { validate(): void } {
  const { apiVersion, kind } = object as { apiVersion?: string; kind?: string };
  const Model = MODELS[`${apiVersion} ${kind}` as keyof typeof MODELS];
  if (!Model) throw new Error(`no Kubernetes model for ${apiVersion} ${kind}`);
  return new Model(object as never);
}
