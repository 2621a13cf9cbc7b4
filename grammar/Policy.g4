// The Mandate policy language. Generated C++ is a build product (see CMakeLists.txt);
// nothing downstream of engine/syntax touches the parse tree: it is lowered to engine/ast.
grammar Policy;

file_ : item* EOF ;

item
  : importDecl
  | constDecl
  | schemaDecl
  | policyDecl
  | testDecl
  ;

importDecl : IMPORT STRING SEMI? ;
constDecl  : CONST ident (COLON typeRef)? ASSIGN expr SEMI? ;

// ---- schema -------------------------------------------------------------
schemaDecl : SCHEMA LBRACE schemaItem* RBRACE ;

schemaItem
  : ENUM ident LBRACE identList RBRACE            # enumDecl
  | ACTIONS LBRACE identList RBRACE               # actionsDecl
  | PRODUCTS ident (ON nameList)? SEMI?           # productsDecl
  | LIMITS LBRACE attrDecl* RBRACE                # limitsDecl
  | ident LBRACE attrDecl* RBRACE                 # sectionDecl
  ;

identList : ident (COMMA ident)* COMMA? ;
nameList  : ident (COMMA ident)* ;
attrDecl  : OPTIONAL? ident COLON typeRef COMMA? ;
typeRef   : ident (LT typeRef GT)? ;

// ---- policies -----------------------------------------------------------
policyDecl : POLICY ident STRING? LBRACE policyItem* RBRACE ;

policyItem
  : metaItem
  | rule_
  ;

metaItem : key=(CITE | OWNER | VERSION) STRING SEMI? ;

rule_ : (ident COLON)? ruleBody SEMI? ;

ruleBody
  : PERMIT target clauses                                    # permitRule
  | DENY target clauses                                      # denyRule
  | LIMIT ident ASSIGN expr (FOR target)? clauses            # limitRule
  | REQUIRE ident compOp expr (FOR target)? clauses          # requireRule
  | CAP TTL expr clauses                                     # capRule
  ;

target     : actionSet (ON productSet)? ;
actionSet  : ALL | nameList ;
productSet : ALL | nameList ;
clauses    : (WHEN expr)? (BECAUSE STRING)? ;

// ---- tests --------------------------------------------------------------
testDecl : TEST STRING LBRACE testItem* RBRACE ;

testItem
  : GIVEN ident LBRACE (fieldInit (COMMA fieldInit)* COMMA?)? RBRACE SEMI?   # givenSection
  | GIVEN ident ASSIGN expr SEMI?                                            # givenValue
  | EXPECT verdict=(PERMIT | DENY) target SEMI?                              # expectVerdict
  | EXPECT LIMIT ident FOR target compOp expr SEMI?                          # expectLimit
  | EXPECT OBLIGATION ident compOp expr (FOR target)? SEMI?                  # expectObligation
  ;

fieldInit : ident COLON expr ;

// ---- expressions (lowest precedence first) ------------------------------
expr    : orExpr ;
orExpr  : andExpr (OR andExpr)* ;
andExpr : notExpr (AND notExpr)* ;
notExpr : NOT notExpr | cmpExpr ;
cmpExpr : addExpr ((compOp | IN | NOT IN) addExpr)? ;
addExpr : mulExpr (op+=(PLUS | MINUS) mulExpr)* ;
mulExpr : unary (op+=(STAR | SLASH) unary)* ;
unary   : MINUS unary | primary ;

primary
  : literal                                                   # literalExpr
  | HAS path                                                  # hasExpr
  | path                                                      # pathExpr
  | LBRACE (expr (COMMA expr)* COMMA?)? RBRACE                # setExpr
  | MATCH expr LBRACE matchArm (COMMA matchArm)* COMMA? RBRACE # matchExpr
  | LPAREN expr RPAREN                                        # parenExpr
  ;

path     : (ident | PRODUCT) (DOT ident)* ;
matchArm : pattern (PIPE pattern)* ARROW expr ;
pattern  : UNDERSCORE | MINUS? INT | literal | ident ;

literal : INT | DECIMAL | DURATION | TIME | STRING | IPV4 | CIDR4 | REGION | TRUE | FALSE ;

compOp : EQ | NE | LT | LE | GT | GE ;

// Soft keywords may also be used as names (attributes, labels, consts).
ident : ID | CITE | OWNER | VERSION | OPTIONAL | TTL | OBLIGATION ;

// ---- lexer --------------------------------------------------------------
IMPORT : 'import' ;   CONST : 'const' ;     SCHEMA : 'schema' ;   ENUM : 'enum' ;
ACTIONS : 'actions' ; PRODUCTS : 'products' ; LIMITS : 'limits' ; OPTIONAL : 'optional' ;
POLICY : 'policy' ;   CITE : 'cite' ;       OWNER : 'owner' ;     VERSION : 'version' ;
PERMIT : 'permit' ;   DENY : 'deny' ;       LIMIT : 'limit' ;     REQUIRE : 'require' ;
CAP : 'cap' ;         TTL : 'ttl' ;         ON : 'on' ;           FOR : 'for' ;
WHEN : 'when' ;       BECAUSE : 'because' ; ALL : 'all' ;         TEST : 'test' ;
GIVEN : 'given' ;     EXPECT : 'expect' ;   OBLIGATION : 'obligation' ;
AND : 'and' ;         OR : 'or' ;           NOT : 'not' ;         IN : 'in' ;
HAS : 'has' ;         MATCH : 'match' ;     PRODUCT : 'product' ;
TRUE : 'true' ;       FALSE : 'false' ;

EQ : '==' ; NE : '!=' ; LE : '<=' ; GE : '>=' ; LT : '<' ; GT : '>' ;
ARROW : '=>' ; ASSIGN : '=' ; PLUS : '+' ; MINUS : '-' ; STAR : '*' ; SLASH : '/' ;
LBRACE : '{' ; RBRACE : '}' ; LPAREN : '(' ; RPAREN : ')' ;
COMMA : ',' ; COLON : ':' ; SEMI : ';' ; DOT : '.' ; PIPE : '|' ;
UNDERSCORE : '_' ;

TIME     : DIGIT DIGIT DIGIT DIGIT '-' DIGIT DIGIT '-' DIGIT DIGIT
           ('T' DIGIT DIGIT ':' DIGIT DIGIT (':' DIGIT DIGIT)? 'Z')? ;
CIDR4    : OCTET '.' OCTET '.' OCTET '.' OCTET '/' DIGIT+ ;
IPV4     : OCTET '.' OCTET '.' OCTET '.' OCTET ;
DURATION : (DIGIT+ ('ms' | 's' | 'm' | 'h' | 'd'))+ ;
DECIMAL  : DIGIT (DIGIT | '_')* '.' DIGIT (DIGIT | '_')* ;
INT      : DIGIT (DIGIT | '_')* ;
REGION   : [A-Z] [A-Z] '-' [A-Z0-9]+ ;
ID       : [a-zA-Z_] [a-zA-Z0-9_]* ;

STRING              : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"' ;
UNTERMINATED_STRING : '"' (~["\\\r\n] | '\\' ~[\r\n])* ;

LINE_COMMENT : '//' ~[\r\n]* -> channel(HIDDEN) ;
WS           : [ \t\r\n]+ -> skip ;
// Anything else becomes one token the parser reports, so the lexer never fails.
ERROR_CHAR   : . ;

fragment DIGIT : [0-9] ;
fragment OCTET : DIGIT DIGIT? DIGIT? ;
