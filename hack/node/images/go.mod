// Images the test node runs without a registry (see hack/build-node.sh); not part of the operator.
module gco.local/node-images

go 1.26
