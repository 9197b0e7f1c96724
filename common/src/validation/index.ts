/** The validation both processes apply, and the CRD's CEL rules are generated from. */
export { type Author, authorPattern, authorProblem, parseAuthor } from './authors.ts';
export { branchNameMaxLength, branchNameProblem, branchNameRules } from './branch-names.ts';
export { filePathRules, pathMaxBytes, pathProblem, pathRules } from './paths.ts';
export { problemOf, type Refusal, refusal } from './refusal.ts';
export {
  embeddedCredentialsPattern,
  fileUrlPattern,
  isSshUrl,
  parseScpLikeUrl,
  repositoryUrlMaxLength,
  schemeUrlPattern,
  scpLikeUrlPattern,
} from './repository-urls.ts';
