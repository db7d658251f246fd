/**
 * Self-consistency of a normalised scheduler configuration. Every dialect parser runs it on its
 * own output as a safety net, and the data plane runs it again on receipt (a snapshot may have been
 * edited or produced by another version). Paths here are in the normalised form
 * (`profiles[0].scorers[1].weight`), not in any dialect's document.
 */
import { Value } from '@sinclair/typebox/value';
import { toFieldPath, type Issue } from '../api/validate';
import { checkParameters, describe, fieldPath, rolesText } from './dialect-common';
import { lookupPluginType, type PluginRole, type PluginType } from './plugin-catalog';
import { SchedulerConfig } from './scheduler-config';

/**
 * Checks that a normalised configuration can be instantiated: plugin names unique, types known
 * and canonical, parameters valid, every reference resolves to a plugin of the right role, weights
 * positive, exactly one picker per profile and a profile handler that fits the profiles. Returns
 * every issue found (empty when the configuration is sound).
 */
export function validateSchedulerConfig(config: unknown): Issue[] {
  // Shape first: the reference checks below assume it.
  const shape = [...Value.Errors(SchedulerConfig, config)];
  if (shape.length > 0) {
    const seen = new Set<string>();
    return shape
      .filter((e) => !seen.has(e.path) && seen.add(e.path))
      .map((e) => ({ path: toFieldPath(e.path), message: `${e.message} (got ${describe(e.value)}); the normalised scheduler configuration is malformed` }));
  }
  const cfg = config as SchedulerConfig;
  const issues: Issue[] = [];
  const types = new Map<string, PluginType>();

  cfg.plugins.forEach((p, i) => {
    const base = fieldPath('plugins', i);
    if (cfg.plugins.findIndex((q) => q.name === p.name) !== i) {
      issues.push({ path: fieldPath(base, 'name'), message: `duplicate plugin name ${JSON.stringify(p.name)}; plugin names must be unique` });
    }
    const t = lookupPluginType(p.type);
    if (!t) {
      issues.push({ path: fieldPath(base, 'type'), message: `unknown plugin type ${JSON.stringify(p.type)} for plugin ${p.name}; the data plane cannot instantiate it` });
      return;
    }
    if (t.type !== p.type) {
      issues.push({ path: fieldPath(base, 'type'), message: `plugin ${p.name} has type ${JSON.stringify(p.type)}, an alias; the normalised form carries the canonical type ${t.type}` });
    }
    types.set(p.name, t);
    issues.push(...checkParameters(t, `plugin ${p.name} (${t.type})`, p.parameters, fieldPath(base, 'parameters')).issues);
  });

  // A reference must name a defined plugin that can play the role it is used in.
  const ref = (name: string, role: PluginRole, path: string, what: string): void => {
    const t = types.get(name);
    if (!cfg.plugins.some((p) => p.name === name)) {
      issues.push({ path, message: `${what} ${JSON.stringify(name)} is not a defined plugin; define it in plugins or fix the reference` });
    } else if (t && !t.roles.includes(role)) {
      issues.push({ path, message: `${what} ${JSON.stringify(name)} is ${t.type}, which can act as ${rolesText(t)}, not as a ${role}` });
    }
  };

  ref(cfg.profileHandler, 'profile-handler', 'profileHandler', 'profile handler');
  const handler = types.get(cfg.profileHandler);
  if (handler?.type === 'single-profile-handler' && cfg.profiles.length > 1) {
    issues.push({ path: 'profiles', message: `single-profile-handler runs one profile but ${cfg.profiles.length} are configured; keep one profile or configure a handler that chooses between them` });
  }
  if (handler?.type === 'pd-profile-handler') {
    const params = cfg.plugins.find((p) => p.name === cfg.profileHandler)?.parameters ?? {};
    for (const key of ['prefillProfile', 'decodeProfile'] as const) {
      const want = String(params[key] ?? (key === 'prefillProfile' ? 'prefill' : 'decode'));
      if (!cfg.profiles.some((p) => p.name === want)) {
        issues.push({ path: 'profiles', message: `pd-profile-handler ${cfg.profileHandler} needs a profile named ${JSON.stringify(want)} (its ${key}); configured: ${cfg.profiles.map((p) => p.name).join(', ')}` });
      }
    }
  }

  const profileNames = new Set<string>();
  cfg.profiles.forEach((prof, i) => {
    const base = fieldPath('profiles', i);
    if (profileNames.has(prof.name)) issues.push({ path: fieldPath(base, 'name'), message: `duplicate profile name ${JSON.stringify(prof.name)}; profile names must be unique` });
    profileNames.add(prof.name);
    prof.filters.forEach((f, j) => {
      ref(f, 'filter', fieldPath(fieldPath(base, 'filters'), j), 'filter');
      if (prof.filters.indexOf(f) !== j) issues.push({ path: fieldPath(fieldPath(base, 'filters'), j), message: `filter ${f} is listed twice in profile ${prof.name}; list it once` });
    });
    prof.scorers.forEach((s, j) => {
      const sp = fieldPath(fieldPath(base, 'scorers'), j);
      ref(s.plugin, 'scorer', fieldPath(sp, 'plugin'), 'scorer');
      if (prof.scorers.findIndex((x) => x.plugin === s.plugin) !== j) issues.push({ path: fieldPath(sp, 'plugin'), message: `scorer ${s.plugin} is listed twice in profile ${prof.name}; list it once with the summed weight` });
    });
    ref(prof.picker, 'picker', fieldPath(base, 'picker'), 'picker');
  });
  return issues;
}
